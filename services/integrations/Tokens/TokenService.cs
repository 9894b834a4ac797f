using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Security;
using Baton.Integrations.Storage;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Security;

namespace Baton.Integrations.Tokens;

public sealed record ValidatedCredential(string User, string Kind, IReadOnlyList<string> Scopes, DateTimeOffset ExpiresAt);

/// <summary>
/// API tokens (<c>gst_api_</c> + 64 hex, stored as SHA-256, shown once) and platform sessions
/// (<c>gst_session_</c> + 64 hex, likewise). Ending either publishes a <see cref="CredentialRevocation"/>
/// so every gateway replica refuses it at once.
/// </summary>
public sealed class TokenService(SettingsProvider settings, IntegrationsStore store, IEventBus bus, TimeProvider time, ILogger<TokenService> logger)
{
    public const string ApiTokenPrefix = "gst_api_";
    public const string SessionPrefix = "gst_session_";
    private const int MaxNameLength = 128;

    public async Task<(ApiTokenRecord Record, string Plaintext)> CreateAsync(Caller caller, string? name, string? scopes, long ttlSeconds, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw IntegrationException.BadRequest("name is required");
        }
        if (name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            throw IntegrationException.BadRequest($"name must be at most {MaxNameLength} printable characters");
        }
        var requested = (scopes ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        foreach (var scope in requested)
        {
            if (!settings.Current.Integrations.ContainsKey(scope))
            {
                throw IntegrationException.BadRequest($"unknown scope \"{ConnectionsTruncate(scope)}\"");
            }
        }
        // A scoped token can mint tokens, but never wider than itself.
        if (caller.Scopes is { } limited)
        {
            if (requested.Count == 0)
            {
                requested = limited.Order(StringComparer.Ordinal).ToList();
            }
            else if (requested.FirstOrDefault(s => !limited.Contains(s)) is { } outside)
            {
                throw new IntegrationException(StatusCodes.Status403Forbidden, $"scope \"{outside}\" is outside this token's own scopes");
            }
        }
        var maximum = settings.Current.Server.ApiTokenTtl;
        if (ttlSeconds < 0)
        {
            throw IntegrationException.BadRequest("ttl_seconds must not be negative");
        }
        var lifetime = ttlSeconds == 0 ? maximum : TimeSpan.FromSeconds(ttlSeconds);
        if (lifetime > maximum)
        {
            throw IntegrationException.BadRequest($"ttl_seconds exceeds the maximum token lifetime of {(long)maximum.TotalSeconds} s (server.api_token_ttl)");
        }
        var plaintext = TokenHash.NewSecret(ApiTokenPrefix);
        var now = time.GetUtcNow();
        var record = new ApiTokenRecord(Guid.NewGuid().ToString(), caller.User, name, TokenHash.Of(plaintext), string.Join(' ', requested),
            TruncateToSecond(now), TruncateToSecond(now + lifetime));
        await store.InsertTokenAsync(record, cancellationToken);
        logger.LogInformation("Created API token {Id} for {User}", record.Id, caller.User);
        return (record, plaintext);
    }

    public Task<IReadOnlyList<ApiTokenRecord>> ListAsync(Caller caller, CancellationToken cancellationToken) => store.ListTokensAsync(caller.User, cancellationToken);

    public async Task RevokeAsync(Caller caller, string id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64)
        {
            throw IntegrationException.NotFound("token not found");
        }
        var hashes = await store.DeleteTokensAsync(caller.User, id, cancellationToken);
        if (hashes.Count == 0)
        {
            throw IntegrationException.NotFound("token not found");
        }
        await PublishRevocationAsync(hashes, cancellationToken);
        logger.LogInformation("Revoked API token {Id} of {User}", id, caller.User);
    }

    public async Task<int> RevokeAllAsync(Caller caller, CancellationToken cancellationToken)
    {
        var hashes = await store.DeleteTokensAsync(caller.User, null, cancellationToken);
        await PublishRevocationAsync(hashes, cancellationToken);
        logger.LogInformation("Revoked {Count} API tokens of {User}", hashes.Count, caller.User);
        return hashes.Count;
    }

    public async Task<ValidatedCredential?> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length > 200)
        {
            return null;
        }
        var hash = TokenHash.Of(token);
        if (token.StartsWith(ApiTokenPrefix, StringComparison.Ordinal))
        {
            return await store.FindTokenAsync(hash, cancellationToken) is { } record
                ? new ValidatedCredential(record.Owner, "api-token", record.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), record.ExpiresAt)
                : null;
        }
        if (token.StartsWith(SessionPrefix, StringComparison.Ordinal))
        {
            return await store.FindSessionAsync(hash, cancellationToken) is { } session
                ? new ValidatedCredential(session.Email, "session", [], session.ExpiresAt)
                : null;
        }
        return null;
    }

    public async Task<(string Token, DateTimeOffset ExpiresAt)> StartSessionAsync(string userId, CancellationToken cancellationToken)
    {
        var token = TokenHash.NewSecret(SessionPrefix);
        var expiresAt = TruncateToSecond(time.GetUtcNow() + settings.Current.Auth.SessionTtl);
        await store.CreateSessionAsync(userId, TokenHash.Of(token), expiresAt, cancellationToken);
        return (token, expiresAt);
    }

    public async Task<bool> EndSessionAsync(string token, CancellationToken cancellationToken)
    {
        if (!token.StartsWith(SessionPrefix, StringComparison.Ordinal))
        {
            return false;
        }
        var hash = TokenHash.Of(token);
        var ended = await store.DeleteSessionAsync(hash, cancellationToken);
        if (ended)
        {
            await PublishRevocationAsync([hash], cancellationToken);
        }
        return ended;
    }

    private async Task PublishRevocationAsync(IReadOnlyList<string> hashes, CancellationToken cancellationToken)
    {
        if (hashes.Count > 0)
        {
            await bus.PublishAsync(CredentialRevocation.Topic, new CredentialRevocation(hashes), cancellationToken);
        }
    }

    private static DateTimeOffset TruncateToSecond(DateTimeOffset value) => DateTimeOffset.FromUnixTimeSeconds(value.ToUnixTimeSeconds());

    private static string ConnectionsTruncate(string value) => Connections.ConnectionService.Truncate(value);
}
