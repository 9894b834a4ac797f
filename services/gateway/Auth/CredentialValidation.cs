using Baton.ServiceDefaults.Security;

namespace Baton.Gateway.Auth;

/// <summary>Who a request is from, as the gateway forwards it to services.</summary>
/// <param name="Scopes">Integration names an API token is limited to; null means unrestricted.</param>
public sealed record CallerIdentity(string User, string Kind, IReadOnlyList<string>? Scopes = null)
{
    public static readonly CallerIdentity Anonymous = new("anonymous", "none");
}

/// <summary>Where a credential was presented; some validators accept only some sources.</summary>
public enum CredentialSource
{
    AuthorizationHeader,
    CoderSessionHeader,
    SessionCookie,
    ProxyAuthorization,
    QueryString,
}

public sealed record PresentedCredential(string Token, CredentialSource Source);

/// <summary>
/// One kind of token. The admin token is checked here; API tokens (<c>gst_api_…</c>) and
/// platform session tokens are validated by the integrations service behind the same interface.
/// </summary>
public interface ICredentialValidator
{
    /// <summary>Returns the identity, or null when this validator does not recognise the token.</summary>
    ValueTask<CallerIdentity?> ValidateAsync(PresentedCredential credential, CancellationToken cancellationToken);
}

public sealed class AdminTokenValidator(GatewayOptions options) : ICredentialValidator
{
    public ValueTask<CallerIdentity?> ValidateAsync(PresentedCredential credential, CancellationToken cancellationToken)
    {
        var valid = options.AdminToken is { } token && SecretComparer.AreEqual(credential.Token, token);
        return ValueTask.FromResult(valid ? new CallerIdentity("admin", "admin-token") : null);
    }
}
