using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Security;
using Baton.Integrations.Storage;

namespace Baton.Integrations.Connections;

public sealed record DiscoveryCandidate(string Id, string Name, Dictionary<string, string> Metadata);

public sealed record ConnectOutcome(string Status, string Integration, string? PendingToken)
{
    public const string PendingPath = "/api/v1/auth/pending-connection";
}

public sealed record PendingConnection(string Owner, string Integration, string Connection, string Instance, ConnectionSecret Secret,
    long? ExpiresAtMs, List<DiscoveryCandidate> Candidates);

/// <summary>The credentials an invocation runs with: the connection's definition and, unless it needs none, the stored secret.</summary>
public sealed record ResolvedCredentials(ConnectionModel Connection, ConnectionSecret? Secret, IReadOnlyDictionary<string, string> Params);

/// <summary>
/// Connecting integrations: the OAuth authorization-code flow with PKCE (state bound to the user,
/// single use, 10 minutes), manual credentials, post-connect discovery with the pending-connection
/// chooser, disconnecting, and resolving a caller's stored credentials (refreshing expired OAuth
/// tokens) for an invocation.
/// </summary>
public sealed class ConnectionService(
    SettingsProvider settings,
    IntegrationsStore store,
    OAuthClient oauth,
    IHttpClientFactory httpClientFactory,
    TimeProvider time,
    ILogger<ConnectionService> logger)
{
    public const string DefaultInstance = "default";
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);
    /// <summary>A token this close to expiry is refreshed before use, so it cannot expire in flight.</summary>
    public static readonly TimeSpan RefreshSkew = TimeSpan.FromSeconds(10);
    private const string OAuthStateKind = "oauth";
    private const string PendingKind = "pending";

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _refreshLocks = new(StringComparer.Ordinal);

    private sealed record OAuthState(string Integration, string Connection, string Instance, string? Verifier, Dictionary<string, string> Params, string RedirectUri);

    public IntegrationModel Integration(string name) =>
        settings.Current.Integrations.TryGetValue(name, out var integration)
            ? integration
            : throw IntegrationException.NotFound($"integration \"{name}\" not found");

    public static string CheckSelector(string? value, string what)
    {
        if (!string.IsNullOrEmpty(value) && (value.Length > 128 || !ConfigLoader.SafeName().IsMatch(value)))
        {
            throw IntegrationException.BadRequest($"{what} name contains invalid characters");
        }
        return value ?? "";
    }

    public ConnectionModel Connection(IntegrationModel integration, string? requested)
    {
        var name = CheckSelector(requested, "connection") is { Length: > 0 } r ? r : integration.DefaultConnection;
        // gestaltd's user-facing alias for the implicit connection.
        if (name == "plugin" && !integration.Connections.ContainsKey(name))
        {
            name = integration.DefaultConnection;
        }
        return integration.Connections.TryGetValue(name, out var connection)
            ? connection
            : throw IntegrationException.BadRequest($"integration \"{integration.Name}\" has no connection \"{name}\"");
    }

    // ---- OAuth ----

    public async Task<(string Url, string State)> StartOAuthAsync(Caller caller, string integrationName, string? connectionName, string? instance,
        IReadOnlyList<string> scopes, IReadOnlyDictionary<string, string> connectionParams, CancellationToken cancellationToken)
    {
        var integration = Integration(Require(integrationName, "integration"));
        var connection = Connection(integration, connectionName);
        var oauthSettings = connection.OAuth ?? throw IntegrationException.BadRequest(
            $"connection \"{connection.Name}\" on integration \"{integration.Name}\" does not support OAuth");
        foreach (var scope in scopes)
        {
            if (scope.Length > 200 || scope.Any(char.IsControl))
            {
                throw IntegrationException.BadRequest("scopes contain invalid characters");
            }
        }
        var parameters = ValidateParams(connection, connectionParams);
        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        // PKCE on every flow (RFC 9700 recommends it for confidential clients too); `pkce` only documents intent.
        var (verifier, challenge) = OAuthClient.CreatePkce();
        var redirectUri = oauthSettings.RedirectUrl ?? settings.Current.Server.OAuthRedirectUrl;
        var payload = new OAuthState(integration.Name, connection.Name, ResolveInstance(instance), verifier, parameters, redirectUri);
        await store.PutStateAsync(TokenHash.Of(state), OAuthStateKind, caller.User, JsonSerializer.SerializeToUtf8Bytes(payload),
            time.GetUtcNow() + StateLifetime, cancellationToken);
        return (OAuthClient.AuthorizationUrl(oauthSettings, redirectUri, state, challenge, scopes, parameters), state);
    }

    /// <summary>The callback: the state is consumed (single use), the code exchanged, the tokens stored.</summary>
    public async Task<ConnectOutcome> CompleteOAuthAsync(string? code, string? state, string? error, string? errorDescription, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(state))
        {
            throw IntegrationException.BadRequest("missing code or state parameter");
        }
        var stored = await store.GetStateAsync(TokenHash.Of(state), OAuthStateKind, consume: true, cancellationToken)
            ?? throw IntegrationException.BadRequest("invalid or expired oauth state");
        var payload = JsonSerializer.Deserialize<OAuthState>(stored.Payload)!;
        if (!string.IsNullOrEmpty(error))
        {
            throw IntegrationException.BadRequest($"authorization was refused: {Truncate(error)}{(errorDescription is null ? "" : $" ({Truncate(errorDescription)})")}");
        }
        if (string.IsNullOrEmpty(code))
        {
            throw IntegrationException.BadRequest("missing code or state parameter");
        }
        var integration = Integration(payload.Integration);
        var connection = Connection(integration, payload.Connection);
        if (connection.OAuth is null)
        {
            throw IntegrationException.BadRequest($"connection \"{connection.Name}\" on integration \"{integration.Name}\" does not support OAuth");
        }
        OAuthTokens tokens;
        try
        {
            tokens = await oauth.ExchangeCodeAsync(connection.OAuth, code, payload.RedirectUri, payload.Verifier, payload.Params, cancellationToken);
        }
        catch (Exception ex) when (ex is OAuthGrantException or OAuthTransportException)
        {
            logger.LogWarning("Token exchange for {Integration} failed: {Reason}", integration.Name, ex.Message);
            throw new IntegrationException(StatusCodes.Status502BadGateway, $"token exchange failed: {ex.Message}");
        }
        var parameters = new Dictionary<string, string>(payload.Params, StringComparer.Ordinal);
        foreach (var field in connection.OAuth.TokenMetadata)
        {
            if (tokens.Raw[field] is JsonValue value)
            {
                parameters[field] = value.ToString();
            }
        }
        var secret = new ConnectionSecret(tokens.AccessToken, tokens.RefreshToken, tokens.TokenType, null, parameters);
        return await PostConnectAsync(stored.Owner, integration, connection, payload.Instance, secret, ExpiryOf(tokens), cancellationToken);
    }

    // ---- manual ----

    public async Task<ConnectOutcome> ConnectManualAsync(Caller caller, string integrationName, string? connectionName, string? instance, string? credential,
        IReadOnlyDictionary<string, string> credentials, IReadOnlyDictionary<string, string> connectionParams, CancellationToken cancellationToken)
    {
        var integration = Integration(Require(integrationName, "integration"));
        var connection = Connection(integration, connectionName);
        if (connection.AuthType is not ("manual" or "bearer"))
        {
            throw IntegrationException.BadRequest($"integration \"{integration.Name}\" does not support manual auth; use OAuth connect instead");
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (credentials.Count > 0)
        {
            foreach (var (name, value) in credentials)
            {
                if (!connection.CredentialFields.Any(f => f.Name == name))
                {
                    throw IntegrationException.BadRequest($"unknown credential \"{Truncate(name)}\" (expected {string.Join(", ", connection.CredentialFields.Select(f => f.Name))})");
                }
                values[name] = string.IsNullOrEmpty(value) ? throw IntegrationException.BadRequest($"credential \"{name}\" must not be empty") : value;
            }
        }
        else if (!string.IsNullOrEmpty(credential))
        {
            values[connection.CredentialFields[0].Name!] = credential;
        }
        foreach (var field in connection.CredentialFields)
        {
            if (!values.ContainsKey(field.Name!))
            {
                throw IntegrationException.BadRequest(credentials.Count == 0 && string.IsNullOrEmpty(credential)
                    ? "integration and credential are required"
                    : $"credential \"{field.Name}\" is required");
            }
        }
        if (values.Values.Any(v => v.Length > 16 * 1024 || v.Any(char.IsControl)))
        {
            throw IntegrationException.BadRequest("credentials must be at most 16 KB of printable characters");
        }
        var parameters = ValidateParams(connection, connectionParams);
        var secret = new ConnectionSecret(values.Count == 1 ? values.Values.First() : null, null, null, values, parameters);
        return await PostConnectAsync(caller.User, integration, connection, ResolveInstance(instance), secret, null, cancellationToken);
    }

    // ---- discovery and the pending-connection chooser ----

    private async Task<ConnectOutcome> PostConnectAsync(string owner, IntegrationModel integration, ConnectionModel connection, string instance,
        ConnectionSecret secret, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        if (connection.Discovery is null)
        {
            await store.SaveConnectionAsync(owner, integration.Name, connection.Name, instance, secret, expiresAt, cancellationToken);
            logger.LogInformation("Connected {Integration}/{Connection}/{Instance}", integration.Name, connection.Name, instance);
            return new ConnectOutcome("connected", integration.Name, null);
        }
        var candidates = await DiscoverAsync(integration, connection, secret, cancellationToken);
        if (candidates.Count == 0)
        {
            throw new IntegrationException(StatusCodes.Status502BadGateway, "connection setup failed: no resources discovered");
        }
        if (candidates.Count == 1)
        {
            await store.SaveConnectionAsync(owner, integration.Name, connection.Name, instance, Merge(secret, candidates[0]), expiresAt, cancellationToken);
            return new ConnectOutcome("connected", integration.Name, null);
        }
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var pending = new PendingConnection(owner, integration.Name, connection.Name, instance, secret, expiresAt?.ToUnixTimeMilliseconds(), candidates);
        await store.PutStateAsync(TokenHash.Of(token), PendingKind, owner, JsonSerializer.SerializeToUtf8Bytes(pending), time.GetUtcNow() + StateLifetime, cancellationToken);
        return new ConnectOutcome("selection_required", integration.Name, token);
    }

    public async Task<PendingConnection> GetPendingAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw IntegrationException.BadRequest("pending_token is required");
        }
        var stored = await store.GetStateAsync(TokenHash.Of(token), PendingKind, consume: false, cancellationToken)
            ?? throw new IntegrationException(StatusCodes.Status410Gone, "invalid or expired pending connection");
        return JsonSerializer.Deserialize<PendingConnection>(stored.Payload)!;
    }

    /// <summary>Finalizes the chooser: the pending token is consumed and the chosen candidate's connection stored.</summary>
    public async Task<string> SelectPendingAsync(string token, string? candidateIndex, string? candidateId, CancellationToken cancellationToken)
    {
        var pending = await GetPendingAsync(token, cancellationToken);
        DiscoveryCandidate? selected = null;
        if (!string.IsNullOrEmpty(candidateIndex))
        {
            selected = int.TryParse(candidateIndex, out var index) && index >= 0 && index < pending.Candidates.Count
                ? pending.Candidates[index]
                : throw IntegrationException.BadRequest("candidate not found");
        }
        else if (!string.IsNullOrEmpty(candidateId))
        {
            selected = pending.Candidates.FirstOrDefault(c => c.Id == candidateId) ?? throw IntegrationException.BadRequest("candidate not found");
        }
        if (selected is null)
        {
            throw IntegrationException.BadRequest("candidate_index or candidate_id is required");
        }
        // Consumed before storing: of two concurrent choices only one wins.
        if (await store.GetStateAsync(TokenHash.Of(token), PendingKind, consume: true, cancellationToken) is null)
        {
            throw new IntegrationException(StatusCodes.Status410Gone, "invalid or expired pending connection");
        }
        var expiresAt = pending.ExpiresAtMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        await store.SaveConnectionAsync(pending.Owner, pending.Integration, pending.Connection, pending.Instance, Merge(pending.Secret, selected), expiresAt, cancellationToken);
        return pending.Integration;
    }

    private async Task<List<DiscoveryCandidate>> DiscoverAsync(IntegrationModel integration, ConnectionModel connection, ConnectionSecret secret, CancellationToken cancellationToken)
    {
        var discovery = connection.Discovery!;
        using var request = new HttpRequestMessage(HttpMethod.Get, OAuthClient.Interpolate(discovery.Url!, secret.Params ?? []));
        foreach (var (header, value) in CredentialHeaders(connection, secret))
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        JsonNode? root;
        try
        {
            using var response = await httpClientFactory.CreateClient(OAuthClient.HttpClientName).SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new IntegrationException(StatusCodes.Status502BadGateway, $"connection setup failed: discovery answered {(int)response.StatusCode}");
            }
            root = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException)
        {
            throw new IntegrationException(StatusCodes.Status502BadGateway, $"connection setup failed: discovery of {integration.Name} failed");
        }
        var items = (string.IsNullOrEmpty(discovery.ItemsPath) ? root : JsonPath(root, discovery.ItemsPath)) as JsonArray
            ?? throw new IntegrationException(StatusCodes.Status502BadGateway, "connection setup failed: the discovery response is not a list");
        var candidates = new List<DiscoveryCandidate>();
        foreach (var item in items.OfType<JsonObject>())
        {
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, path) in discovery.Metadata ?? [])
            {
                if (JsonPath(item, path) is JsonValue value)
                {
                    metadata[key] = value.ToString();
                }
            }
            candidates.Add(new DiscoveryCandidate(JsonPath(item, discovery.IdPath ?? "id")?.ToString() ?? "", JsonPath(item, discovery.NamePath ?? "name")?.ToString() ?? "", metadata));
        }
        return candidates;
    }

    private static ConnectionSecret Merge(ConnectionSecret secret, DiscoveryCandidate candidate)
    {
        var parameters = new Dictionary<string, string>(secret.Params ?? [], StringComparer.Ordinal);
        foreach (var (key, value) in candidate.Metadata)
        {
            parameters[key] = value;
        }
        return secret with { Params = parameters };
    }

    private static JsonNode? JsonPath(JsonNode? node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            node = node is JsonObject obj && obj.TryGetPropertyValue(part, out var next) ? next : null;
        }
        return node;
    }

    public Task<IReadOnlyList<StoredConnection>> ListStoredAsync(Caller caller, CancellationToken cancellationToken) =>
        store.ListConnectionsAsync(caller.User, null, cancellationToken);

    // ---- disconnect ----

    public async Task DisconnectAsync(Caller caller, string integrationName, string? instance, string? connectionName, CancellationToken cancellationToken)
    {
        var integration = Integration(integrationName);
        CheckSelector(instance, "instance");
        CheckSelector(connectionName, "connection");
        var stored = (await store.ListConnectionsAsync(caller.User, integration.Name, cancellationToken))
            .Where(c => string.IsNullOrEmpty(connectionName) || c.Connection == connectionName)
            .ToList();
        if (stored.Count == 0)
        {
            throw IntegrationException.NotFound($"no connection found for integration \"{integration.Name}\"");
        }
        if (!string.IsNullOrEmpty(instance))
        {
            stored = stored.Where(c => c.Instance == instance).ToList();
            if (stored.Count == 0)
            {
                throw IntegrationException.NotFound($"no connection found for integration \"{integration.Name}\" instance \"{instance}\"");
            }
        }
        if (stored.Count > 1)
        {
            var labels = string.Join(", ", stored.Select(c => $"{c.Connection}/{c.Instance}"));
            var hint = string.IsNullOrEmpty(instance) ? "?instance=NAME" : "?connection=NAME";
            throw new IntegrationException(StatusCodes.Status409Conflict, $"multiple connections exist for \"{integration.Name}\" ({labels}); specify {hint}");
        }
        await store.DeleteConnectionAsync(stored[0].Id, cancellationToken);
        logger.LogInformation("Disconnected {Integration}/{Connection}/{Instance}", integration.Name, stored[0].Connection, stored[0].Instance);
    }

    // ---- credentials for an invocation ----

    public async Task<ResolvedCredentials> ResolveAsync(Caller caller, IntegrationModel integration, string connectionName, string? instance, CancellationToken cancellationToken)
    {
        var connection = Connection(integration, connectionName);
        if (!connection.NeedsCredentials || connection.Mode == "none")
        {
            return new ResolvedCredentials(connection, null, new Dictionary<string, string>(StringComparer.Ordinal));
        }
        var stored = (await store.ListConnectionsAsync(caller.User, integration.Name, cancellationToken))
            .Where(c => c.Connection == connection.Name)
            .ToList();
        if (!string.IsNullOrEmpty(instance))
        {
            stored = stored.Where(c => c.Instance == instance).ToList();
        }
        if (stored.Count == 0)
        {
            throw new IntegrationException(StatusCodes.Status412PreconditionFailed, string.IsNullOrEmpty(instance)
                ? $"no token stored for integration \"{integration.Name}\"; connect via OAuth first"
                : $"no token stored for integration \"{integration.Name}\" instance \"{instance}\"; connect via OAuth first");
        }
        if (stored.Count > 1)
        {
            throw new IntegrationException(StatusCodes.Status409Conflict,
                $"integration \"{integration.Name}\" has {stored.Count} connected instances ({string.Join(", ", stored.Select(c => c.Instance))}); choose one with _instance");
        }
        var current = stored[0];
        if (connection.OAuth is not null && current.ExpiresAt is { } expiresAt && expiresAt - RefreshSkew <= time.GetUtcNow())
        {
            current = await RefreshAsync(caller, integration, connection, current, cancellationToken);
        }
        return new ResolvedCredentials(connection, current.Secret, current.Secret.Params ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    /// <summary>
    /// Refreshes an expired access token. One refresh per connection at a time: a provider that
    /// rotates refresh tokens would refuse the second of two concurrent refreshes. A refresh that
    /// fails is the caller's error (412 when the grant is dead, 502 when the provider is down),
    /// never a silent retry with the stale token.
    /// </summary>
    private async Task<StoredConnection> RefreshAsync(Caller caller, IntegrationModel integration, ConnectionModel connection, StoredConnection current, CancellationToken cancellationToken)
    {
        var gate = _refreshLocks.GetOrAdd(current.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var latest = (await store.ListConnectionsAsync(caller.User, integration.Name, cancellationToken))
                .FirstOrDefault(c => c.Id == current.Id) ?? current;
            if (latest.ExpiresAt is { } expiresAt && expiresAt - RefreshSkew > time.GetUtcNow())
            {
                return latest;
            }
            if (string.IsNullOrEmpty(latest.Secret.RefreshToken))
            {
                throw new IntegrationException(StatusCodes.Status412PreconditionFailed,
                    $"the token for integration \"{integration.Name}\" expired and there is no refresh token; connect via OAuth again");
            }
            OAuthTokens tokens;
            try
            {
                tokens = await oauth.RefreshAsync(connection.OAuth!, latest.Secret.RefreshToken, latest.Secret.Params ?? [], cancellationToken);
            }
            catch (OAuthGrantException ex)
            {
                logger.LogWarning("Refreshing the {Integration} token was refused: {Reason}", integration.Name, ex.Message);
                throw new IntegrationException(StatusCodes.Status412PreconditionFailed,
                    $"refreshing the token for integration \"{integration.Name}\" was refused ({ex.Message}); connect via OAuth again");
            }
            catch (OAuthTransportException ex)
            {
                logger.LogWarning("Refreshing the {Integration} token failed: {Reason}", integration.Name, ex.Message);
                throw new IntegrationException(StatusCodes.Status502BadGateway, $"refreshing the token for integration \"{integration.Name}\" failed: {ex.Message}");
            }
            var secret = latest.Secret with
            {
                AccessToken = tokens.AccessToken,
                RefreshToken = tokens.RefreshToken ?? latest.Secret.RefreshToken,
                TokenType = tokens.TokenType ?? latest.Secret.TokenType,
            };
            var newExpiry = ExpiryOf(tokens);
            await store.SaveConnectionAsync(latest.Owner, latest.Integration, latest.Connection, latest.Instance, secret, newExpiry, cancellationToken);
            logger.LogInformation("Refreshed the {Integration}/{Instance} token", integration.Name, latest.Instance);
            return latest with { Secret = secret, ExpiresAt = newExpiry };
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The headers that carry a connection's credentials: auth_mapping, else <c>Authorization: Bearer</c>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> CredentialHeaders(ConnectionModel connection, ConnectionSecret? secret)
    {
        if (secret is null)
        {
            yield break;
        }
        if (connection.AuthMappingHeaders.Count > 0 && secret.Credentials is { } credentials)
        {
            foreach (var (header, field) in connection.AuthMappingHeaders)
            {
                if (credentials.TryGetValue(field, out var value))
                {
                    yield return KeyValuePair.Create(header, value);
                }
            }
            yield break;
        }
        if (!string.IsNullOrEmpty(secret.AccessToken))
        {
            yield return KeyValuePair.Create("Authorization", $"Bearer {secret.AccessToken}");
        }
    }

    private DateTimeOffset? ExpiryOf(OAuthTokens tokens) => tokens.ExpiresIn is { } expiresIn ? time.GetUtcNow() + expiresIn : null;

    private static Dictionary<string, string> ValidateParams(ConnectionModel connection, IReadOnlyDictionary<string, string> provided)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in provided)
        {
            if (!connection.Params.TryGetValue(name, out var definition) || !string.IsNullOrEmpty(definition.From))
            {
                throw IntegrationException.BadRequest($"unknown connection parameter \"{Truncate(name)}\"");
            }
            if (value.Length > 1024 || value.Any(char.IsControl))
            {
                throw IntegrationException.BadRequest($"connection parameter \"{name}\" is too long or contains control characters");
            }
            result[name] = value;
        }
        foreach (var (name, definition) in connection.Params)
        {
            if (!string.IsNullOrEmpty(definition.From) || result.ContainsKey(name))
            {
                continue;
            }
            if (!string.IsNullOrEmpty(definition.Default))
            {
                result[name] = definition.Default;
            }
            else if (definition.Required == true)
            {
                throw IntegrationException.BadRequest($"connection parameter \"{name}\" is required");
            }
        }
        return result;
    }

    private static string ResolveInstance(string? instance) => CheckSelector(instance, "instance") is { Length: > 0 } i ? i : DefaultInstance;

    private static string Require(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw IntegrationException.BadRequest($"{field} is required") : value;

    public static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
