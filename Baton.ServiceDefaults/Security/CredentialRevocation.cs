using Baton.ServiceDefaults.Events;

namespace Baton.ServiceDefaults.Security;

/// <summary>
/// Published by the integrations service when API tokens or platform sessions end (revoke,
/// revoke-all, logout), so every gateway replica drops them from its validation cache at once.
/// </summary>
public sealed record CredentialRevocation(IReadOnlyList<string> TokenHashes)
{
    public static readonly EventTopic<CredentialRevocation> Topic = new("integrations.credentials.revoked");
}
