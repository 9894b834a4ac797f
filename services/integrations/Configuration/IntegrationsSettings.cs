using System.Text.Json.Nodes;

namespace Baton.Integrations.Configuration;

/// <summary>integrations.yaml after validation: every reference resolved, every default applied.</summary>
public sealed record IntegrationsSettings(
    string SourcePath,
    PlatformAuthSettings Auth,
    ServerSettings Server,
    IReadOnlyDictionary<string, IntegrationModel> Integrations,
    IReadOnlyDictionary<string, BindingModel> Bindings)
{
    public static IntegrationsSettings Empty(string sourcePath, string baseUrl) => new(
        sourcePath,
        new PlatformAuthSettings("none", "None", null, null, null, null, null, [], [], TimeSpan.FromHours(24), false),
        new ServerSettings(baseUrl, null, TimeSpan.FromDays(30)),
        new Dictionary<string, IntegrationModel>(StringComparer.Ordinal),
        new Dictionary<string, BindingModel>(StringComparer.Ordinal));
}

public sealed record PlatformAuthSettings(
    string Provider,
    string DisplayName,
    string? LocalEmail,
    string? IssuerUrl,
    string? ClientId,
    string? ClientSecret,
    string? RedirectUrl,
    IReadOnlyList<string> AllowedDomains,
    IReadOnlyList<string> Scopes,
    TimeSpan SessionTtl,
    bool Pkce);

public sealed record ServerSettings(string BaseUrl, string? EncryptionKey, TimeSpan ApiTokenTtl)
{
    public string OAuthRedirectUrl => $"{BaseUrl}/api/v1/auth/callback";
    public string LoginRedirectUrl => $"{BaseUrl}/api/v1/auth/login/callback";
}

public sealed record IntegrationModel(
    string Name,
    string DisplayName,
    string Description,
    string IconSvg,
    string McpToolPrefix,
    string? BaseUrl,
    IReadOnlyDictionary<string, string> Headers,
    IReadOnlyList<ManagedParameterDef> ManagedParameters,
    IReadOnlyDictionary<string, ConnectionModel> Connections,
    string DefaultConnection,
    IReadOnlyList<OperationModel> Operations)
{
    public OperationModel? FindOperation(string id) => Operations.FirstOrDefault(o => string.Equals(o.Id, id, StringComparison.Ordinal));

    public IEnumerable<string> AuthTypes => Connections.Values.SelectMany(c => c.UserFacingAuthTypes).Distinct(StringComparer.Ordinal);
}

public sealed record ConnectionModel(
    string Name,
    string Mode,
    string AuthType,
    OAuthSettings? OAuth,
    IReadOnlyList<CredentialFieldDef> CredentialFields,
    IReadOnlyDictionary<string, string> AuthMappingHeaders,
    IReadOnlyDictionary<string, ConnectionParamDef> Params,
    DiscoveryDef? Discovery)
{
    public bool NeedsCredentials => AuthType is not "none";

    public IEnumerable<string> UserFacingAuthTypes => AuthType switch
    {
        "oauth2" => ["oauth"],
        "manual" or "bearer" => ["manual"],
        _ => [],
    };
}

public sealed record OAuthSettings(
    string AuthorizationUrl,
    string TokenUrl,
    string ClientId,
    string? ClientSecret,
    string? RedirectUrl,
    string ClientAuth,
    string TokenExchange,
    IReadOnlyList<string> Scopes,
    string ScopeParam,
    string ScopeSeparator,
    bool Pkce,
    IReadOnlyDictionary<string, string> AuthorizationParams,
    IReadOnlyDictionary<string, string> TokenParams,
    IReadOnlyDictionary<string, string> RefreshParams,
    string? AcceptHeader,
    IReadOnlyList<string> TokenMetadata);

public sealed record OperationModel(
    string Id,
    string UpstreamName,
    string Method,
    string Path,
    string Title,
    string Description,
    IReadOnlyList<ParameterModel> Parameters,
    string Connection,
    IReadOnlyList<string> Tags,
    JsonObject? BodySchema)
{
    public bool ReadOnly => Method is "GET" or "HEAD";
}

public sealed record ParameterModel(string Name, string WireName, string Type, string Location, string Description, bool Required, string? Default, JsonObject? Schema);

public sealed record BindingModel(
    string Name,
    string Type,
    IReadOnlyList<string> Providers,
    string Path,
    string? Provider,
    string? Instance,
    string AuthMode,
    string? SigningSecret,
    string SignatureHeader,
    IReadOnlyList<string> Methods);
