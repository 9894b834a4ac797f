namespace Baton.Integrations.Configuration;

// The integrations.yaml schema: gestaltd's config format (NOTES §3.4). Property names map to
// snake_case keys; YamlBinder rejects every key not declared here.

public sealed class IntegrationsFile
{
    public AuthSection? Auth { get; set; }
    public ServerSection? Server { get; set; }
    public SecretsSection? Secrets { get; set; }
    public Dictionary<string, IntegrationDef> Integrations { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, BindingDef> Bindings { get; set; } = new(StringComparer.Ordinal);
}

public sealed class AuthSection
{
    public string? Provider { get; set; }
    public AuthProviderConfig? Config { get; set; }
}

public sealed class AuthProviderConfig
{
    public string? Email { get; set; }
    public string? IssuerUrl { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    public string? RedirectUrl { get; set; }
    public List<string>? AllowedDomains { get; set; }
    public List<string>? Scopes { get; set; }
    public string? SessionSecret { get; set; }
    public string? SessionTtl { get; set; }
    public bool? Pkce { get; set; }
    public string? DisplayName { get; set; }
}

public sealed class ServerSection
{
    public int? Port { get; set; }
    public string? BaseUrl { get; set; }
    public string? EncryptionKey { get; set; }
    public string? ApiTokenTtl { get; set; }
}

public sealed class SecretsSection
{
    public string? Provider { get; set; }
    public SecretsConfig? Config { get; set; }
}

public sealed class SecretsConfig
{
    public string? Prefix { get; set; }
    public string? Dir { get; set; }
}

public sealed class IntegrationDef
{
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string? IconFile { get; set; }
    public string? McpToolPrefix { get; set; }
    public PluginDef? Plugin { get; set; }
}

public sealed class PluginDef
{
    public string? Openapi { get; set; }
    public string? OpenapiConnection { get; set; }
    public string? BaseUrl { get; set; }
    public Dictionary<string, string>? Headers { get; set; }
    public List<ManagedParameterDef>? ManagedParameters { get; set; }
    public ConnectionAuthDef? Auth { get; set; }
    public Dictionary<string, ConnectionParamDef>? Params { get; set; }
    public Dictionary<string, ConnectionDef>? Connections { get; set; }
    public List<OperationDef>? Operations { get; set; }
    public ResponseMappingDef? ResponseMapping { get; set; }
    public string? DefaultConnection { get; set; }
    public bool? Mcp { get; set; }
    public Dictionary<string, OperationOverride?>? AllowedOperations { get; set; }
    /// <summary>Baton's addition: post-connect discovery of candidate instances (gestaltd's plugin manifests carry it).</summary>
    public DiscoveryDef? Discovery { get; set; }
}

public sealed class ConnectionDef
{
    public string? Mode { get; set; }
    public ConnectionAuthDef? Auth { get; set; }
    public Dictionary<string, ConnectionParamDef>? Params { get; set; }
    public DiscoveryDef? Discovery { get; set; }
}

public sealed class ConnectionAuthDef
{
    public string? Type { get; set; }
    public string? AuthorizationUrl { get; set; }
    public string? TokenUrl { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    public string? RedirectUrl { get; set; }
    public string? ClientAuth { get; set; }
    public string? TokenExchange { get; set; }
    public List<string>? Scopes { get; set; }
    public string? ScopeParam { get; set; }
    public string? ScopeSeparator { get; set; }
    public bool? Pkce { get; set; }
    public Dictionary<string, string>? AuthorizationParams { get; set; }
    public Dictionary<string, string>? TokenParams { get; set; }
    public Dictionary<string, string>? RefreshParams { get; set; }
    public string? AcceptHeader { get; set; }
    public string? AccessTokenPath { get; set; }
    public List<string>? TokenMetadata { get; set; }
    public List<CredentialFieldDef>? Credentials { get; set; }
    public AuthMappingDef? AuthMapping { get; set; }
}

public sealed class CredentialFieldDef
{
    public string? Name { get; set; }
    public string? Label { get; set; }
    public string? Description { get; set; }
    public string? HelpUrl { get; set; }
}

public sealed class AuthMappingDef
{
    public Dictionary<string, string>? Headers { get; set; }
}

public sealed class ConnectionParamDef
{
    public bool? Required { get; set; }
    public string? Description { get; set; }
    public string? Default { get; set; }
    public string? From { get; set; }
    public string? Field { get; set; }
}

public sealed class ManagedParameterDef
{
    public string? In { get; set; }
    public string? Name { get; set; }
    public string? Value { get; set; }
}

public sealed class OperationDef
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public string? Method { get; set; }
    public string? Path { get; set; }
    public List<OperationParameterDef>? Parameters { get; set; }
}

public sealed class OperationParameterDef
{
    public string? Name { get; set; }
    public string? Type { get; set; }
    public string? In { get; set; }
    public string? Description { get; set; }
    public bool? Required { get; set; }
    public string? Default { get; set; }
}

public sealed class OperationOverride
{
    public string? Alias { get; set; }
    public string? Description { get; set; }
}

public sealed class ResponseMappingDef
{
    public string? DataPath { get; set; }
    public PaginationDef? Pagination { get; set; }
}

public sealed class PaginationDef
{
    public string? HasMorePath { get; set; }
    public string? CursorPath { get; set; }
}

public sealed class DiscoveryDef
{
    public string? Url { get; set; }
    public string? ItemsPath { get; set; }
    public string? IdPath { get; set; }
    public string? NamePath { get; set; }
    public Dictionary<string, string>? Metadata { get; set; }
}

public sealed class BindingDef
{
    public string? Type { get; set; }
    public List<string>? Providers { get; set; }
    public BindingConfig? Config { get; set; }
}

public sealed class BindingConfig
{
    public string? Path { get; set; }
    public string? Provider { get; set; }
    public string? Instance { get; set; }
    public string? Operation { get; set; }
    public string? AuthMode { get; set; }
    public string? SigningSecret { get; set; }
    public string? SignatureHeader { get; set; }
    public List<string>? Methods { get; set; }
}
