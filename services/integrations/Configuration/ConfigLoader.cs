using System.Globalization;
using System.Text.RegularExpressions;
using Baton.Integrations.Catalog;

namespace Baton.Integrations.Configuration;

/// <summary>
/// Reads integrations.yaml (gestaltd's format): <c>${ENV}</c>/<c>${ENV}_FILE</c> expansion, strict
/// keys, <c>secret://</c> references, and every cross-reference checked, so a broken file stops
/// startup with the key and line at fault instead of failing on first use.
/// </summary>
public sealed partial class ConfigLoader(Func<string, string?> getEnvironment, HttpClient http)
{
    public const string FileName = "integrations.yaml";
    private static readonly string[] ReservedNames = ["integrations", "auth", "tokens", "bindings"];

    public static string ResolvePath(string? explicitPath, string configDir) =>
        string.IsNullOrWhiteSpace(explicitPath) ? Path.Combine(configDir, FileName) : Path.GetFullPath(explicitPath);

    public async Task<IntegrationsSettings> LoadAsync(string path, string defaultBaseUrl, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return IntegrationsSettings.Empty(path, defaultBaseUrl.TrimEnd('/'));
        }
        var fileName = Path.GetFileName(path);
        var text = YamlBinder.ExpandEnvironment(await File.ReadAllTextAsync(path, cancellationToken), fileName, getEnvironment);
        var binder = new YamlBinder(fileName);
        var file = binder.Bind<IntegrationsFile>(text);
        var context = new LoadContext(binder, Path.GetDirectoryName(path)!, file.Secrets, getEnvironment);

        var server = ResolveServer(file.Server, context, defaultBaseUrl);
        var auth = ResolveAuth(file.Auth, context, server);
        var integrations = new Dictionary<string, IntegrationModel>(StringComparer.Ordinal);
        foreach (var (name, definition) in file.Integrations)
        {
            integrations[name] = await ResolveIntegrationAsync(name, definition, context, cancellationToken);
        }
        var bindings = new Dictionary<string, BindingModel>(StringComparer.Ordinal);
        foreach (var (name, definition) in file.Bindings)
        {
            bindings[name] = ResolveBinding(name, definition, integrations, context);
        }
        return new IntegrationsSettings(path, auth, server, integrations, bindings);
    }

    private static ServerSettings ResolveServer(ServerSection? server, LoadContext context, string defaultBaseUrl)
    {
        var baseUrl = context.Value(server?.BaseUrl, "server.base_url") is { Length: > 0 } configured ? configured : defaultBaseUrl;
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw context.Binder.Error("server.base_url", $"\"{baseUrl}\" is not an http(s) URL");
        }
        var ttl = server?.ApiTokenTtl is { Length: > 0 } text
            ? ParseDuration(text) ?? throw context.Binder.Error("server.api_token_ttl", $"\"{text}\" is not a duration (for example 720h or 30d)")
            : TimeSpan.FromDays(30);
        if (ttl <= TimeSpan.Zero)
        {
            throw context.Binder.Error("server.api_token_ttl", "must be positive");
        }
        return new ServerSettings(baseUrl.TrimEnd('/'), context.Value(server?.EncryptionKey, "server.encryption_key"), ttl);
    }

    private static PlatformAuthSettings ResolveAuth(AuthSection? auth, LoadContext context, ServerSettings server)
    {
        var provider = auth?.Provider is { Length: > 0 } p ? p : "none";
        var config = auth?.Config ?? new AuthProviderConfig();
        var sessionTtl = config.SessionTtl is { Length: > 0 } ttlText
            ? ParseDuration(ttlText) ?? throw context.Binder.Error("auth.config.session_ttl", $"\"{ttlText}\" is not a duration")
            : TimeSpan.FromHours(24);
        switch (provider)
        {
            case "none":
                return IntegrationsSettings.Empty("", server.BaseUrl).Auth;
            case "local":
                return new PlatformAuthSettings("local", config.DisplayName ?? "local", config.Email is { Length: > 0 } email ? email : "local@gestalt.local",
                    null, null, null, null, [], [], sessionTtl, false);
            case "oidc":
                var issuer = context.Value(config.IssuerUrl, "auth.config.issuer_url");
                if (string.IsNullOrWhiteSpace(issuer) || !Uri.TryCreate(issuer, UriKind.Absolute, out _))
                {
                    throw context.Binder.Error("auth.config.issuer_url", "an OIDC provider needs issuer_url (an absolute URL)");
                }
                var clientId = context.Value(config.ClientId, "auth.config.client_id");
                if (string.IsNullOrWhiteSpace(clientId))
                {
                    throw context.Binder.Error("auth.config.client_id", "an OIDC provider needs client_id");
                }
                return new PlatformAuthSettings("oidc", config.DisplayName ?? "SSO", null, issuer.TrimEnd('/'), clientId,
                    context.Value(config.ClientSecret, "auth.config.client_secret"),
                    context.Value(config.RedirectUrl, "auth.config.redirect_url") is { Length: > 0 } redirect ? redirect : server.LoginRedirectUrl,
                    config.AllowedDomains ?? [], config.Scopes is { Count: > 0 } scopes ? scopes : ["openid", "email", "profile"],
                    sessionTtl, config.Pkce ?? false);
            default:
                throw context.Binder.Error("auth.provider", $"unknown auth provider \"{provider}\" (Baton supports none, local and oidc)");
        }
    }

    private async Task<IntegrationModel> ResolveIntegrationAsync(string name, IntegrationDef definition, LoadContext context, CancellationToken cancellationToken)
    {
        var path = $"integrations.{name}";
        if (!SafeName().IsMatch(name) || ReservedNames.Contains(name, StringComparer.Ordinal))
        {
            throw context.Binder.Error(path, $"integration name \"{name}\" must match [a-zA-Z0-9._-]+ and not be one of {string.Join(", ", ReservedNames)}");
        }
        var plugin = definition.Plugin ?? throw context.Binder.Error(path, "plugin is required");
        var pluginPath = $"{path}.plugin";

        var connections = new Dictionary<string, ConnectionModel>(StringComparer.Ordinal);
        if (plugin.Connections is { Count: > 0 })
        {
            if (plugin.Auth is not null)
            {
                throw context.Binder.Error($"{pluginPath}.auth", "use either auth (one implicit connection) or connections, not both");
            }
            foreach (var (connectionName, connection) in plugin.Connections)
            {
                var connectionPath = $"{pluginPath}.connections.{connectionName}";
                if (!SafeName().IsMatch(connectionName))
                {
                    throw context.Binder.Error(connectionPath, "connection names must match [a-zA-Z0-9._-]+");
                }
                connections[connectionName] = ResolveConnection(connectionName, connection.Mode, connection.Auth, connection.Params, connection.Discovery, connectionPath, context);
            }
        }
        else
        {
            connections["default"] = ResolveConnection("default", null, plugin.Auth, plugin.Params, plugin.Discovery, pluginPath, context);
        }

        var defaultConnection = plugin.DefaultConnection is { Length: > 0 } requested ? requested : connections.Keys.First();
        if (!connections.ContainsKey(defaultConnection))
        {
            throw context.Binder.Error($"{pluginPath}.default_connection", $"names connection \"{defaultConnection}\", which is not defined (defined: {string.Join(", ", connections.Keys)})");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (header, value) in plugin.Headers ?? [])
        {
            headers[header] = context.Value(value, $"{pluginPath}.headers.{header}") ?? "";
        }

        var operations = new List<OperationModel>();
        string? baseUrl = context.Value(plugin.BaseUrl, $"{pluginPath}.base_url");
        if (plugin.Openapi is { Length: > 0 } openapi)
        {
            var openapiConnection = plugin.OpenapiConnection is { Length: > 0 } oc ? oc : defaultConnection;
            if (!connections.ContainsKey(openapiConnection))
            {
                throw context.Binder.Error($"{pluginPath}.openapi_connection", $"names connection \"{openapiConnection}\", which is not defined");
            }
            var imported = await OpenApiImporter.ImportAsync(openapi, context.ConfigDir, http, openapiConnection, cancellationToken)
                .ConfigureAwait(false) is var result && result.Error is null
                ? result
                : throw context.Binder.Error($"{pluginPath}.openapi", result.Error!);
            baseUrl ??= imported.ServerUrl;
            operations.AddRange(imported.Operations);
        }
        foreach (var (operation, index) in (plugin.Operations ?? []).Select((o, i) => (o, i)))
        {
            operations.Add(ResolveOperation(operation, $"{pluginPath}.operations[{index}]", defaultConnection, context));
        }
        if (operations.Count == 0)
        {
            throw context.Binder.Error(pluginPath, "defines no operations: give openapi, or base_url with operations");
        }
        if (baseUrl is null || !Uri.TryCreate(baseUrl.Replace("{", "", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal), UriKind.Absolute, out _))
        {
            throw context.Binder.Error($"{pluginPath}.base_url", baseUrl is null
                ? "base_url is required (the OpenAPI document names no server)"
                : $"\"{baseUrl}\" is not an absolute URL");
        }
        var duplicate = operations.GroupBy(o => o.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw context.Binder.Error(pluginPath, $"operation \"{duplicate.Key}\" is defined twice");
        }

        if (plugin.AllowedOperations is { Count: > 0 } allowed)
        {
            var filtered = new List<OperationModel>();
            foreach (var (operationName, overrides) in allowed)
            {
                var operation = operations.FirstOrDefault(o => o.Id == operationName || o.UpstreamName == operationName)
                    ?? throw context.Binder.Error($"{pluginPath}.allowed_operations.{operationName}", $"names operation \"{operationName}\", which the plugin does not define");
                if (overrides?.Alias is { Length: > 0 } alias)
                {
                    if (!SafeName().IsMatch(alias))
                    {
                        throw context.Binder.Error($"{pluginPath}.allowed_operations.{operationName}.alias", "aliases must match [a-zA-Z0-9._-]+");
                    }
                    operation = operation with { Id = alias };
                }
                if (overrides?.Description is { Length: > 0 } description)
                {
                    operation = operation with { Description = description };
                }
                filtered.Add(operation);
            }
            operations = filtered;
        }

        foreach (var managed in plugin.ManagedParameters ?? [])
        {
            if (managed.In is not ("header" or "path") || string.IsNullOrEmpty(managed.Name))
            {
                throw context.Binder.Error($"{pluginPath}.managed_parameters", "each managed parameter needs a name and in: header or path");
            }
        }

        var iconSvg = "";
        if (definition.IconFile is { Length: > 0 } iconFile)
        {
            var iconPath = Path.GetFullPath(iconFile, context.ConfigDir);
            iconSvg = File.Exists(iconPath)
                ? await File.ReadAllTextAsync(iconPath, cancellationToken)
                : throw context.Binder.Error($"{path}.icon_file", $"file \"{iconPath}\" does not exist");
        }

        return new IntegrationModel(name, definition.DisplayName ?? name, definition.Description ?? "", iconSvg,
            definition.McpToolPrefix ?? "", baseUrl.TrimEnd('/'), headers, plugin.ManagedParameters ?? [], connections, defaultConnection, operations);
    }

    private static ConnectionModel ResolveConnection(string name, string? mode, ConnectionAuthDef? auth, Dictionary<string, ConnectionParamDef>? parameters,
        DiscoveryDef? discovery, string path, LoadContext context)
    {
        var authPath = $"{path}.auth";
        var type = auth?.Type is { Length: > 0 } t ? t : "none";
        mode ??= type == "none" ? "none" : "user";
        if (mode is not ("none" or "user" or "identity" or "either"))
        {
            throw context.Binder.Error($"{path}.mode", $"unknown mode \"{mode}\" (none, user, identity or either)");
        }
        OAuthSettings? oauth = null;
        var credentials = auth?.Credentials ?? [];
        switch (type)
        {
            case "none":
                break;
            case "oauth2":
                oauth = new OAuthSettings(
                    Required(auth!.AuthorizationUrl, $"{authPath}.authorization_url", context),
                    Required(auth.TokenUrl, $"{authPath}.token_url", context),
                    Required(auth.ClientId, $"{authPath}.client_id", context),
                    context.Value(auth.ClientSecret, $"{authPath}.client_secret"),
                    context.Value(auth.RedirectUrl, $"{authPath}.redirect_url"),
                    auth.ClientAuth is { Length: > 0 } clientAuth
                        ? clientAuth is "body" or "header" ? clientAuth : throw context.Binder.Error($"{authPath}.client_auth", "must be body or header")
                        : "body",
                    auth.TokenExchange is { Length: > 0 } exchange
                        ? exchange is "form" or "json" ? exchange : throw context.Binder.Error($"{authPath}.token_exchange", "must be form or json")
                        : "form",
                    auth.Scopes ?? [],
                    auth.ScopeParam is { Length: > 0 } scopeParam ? scopeParam : "scope",
                    auth.ScopeSeparator ?? " ",
                    auth.Pkce ?? false,
                    auth.AuthorizationParams ?? [],
                    ResolveValues(auth.TokenParams, $"{authPath}.token_params", context),
                    ResolveValues(auth.RefreshParams, $"{authPath}.refresh_params", context),
                    auth.AcceptHeader,
                    auth.TokenMetadata ?? []);
                break;
            case "manual":
                if (credentials.Count == 0)
                {
                    throw context.Binder.Error($"{authPath}.credentials", "manual auth needs at least one credential field");
                }
                break;
            case "bearer":
                if (credentials.Count == 0)
                {
                    credentials = [new CredentialFieldDef { Name = "token", Label = "API Token" }];
                }
                break;
            default:
                throw context.Binder.Error($"{authPath}.type", $"unknown auth type \"{type}\" (oauth2, manual, bearer or none)");
        }
        foreach (var (field, index) in credentials.Select((f, i) => (f, i)))
        {
            if (string.IsNullOrEmpty(field.Name) || !CredentialName().IsMatch(field.Name))
            {
                throw context.Binder.Error($"{authPath}.credentials[{index}]", "each credential needs a name of lowercase letters, digits and underscores");
            }
        }
        var mapping = auth?.AuthMapping?.Headers ?? [];
        if (credentials.Count > 1 && mapping.Count == 0)
        {
            throw context.Binder.Error($"{authPath}.auth_mapping", "several credentials need auth_mapping.headers to say which header carries each");
        }
        foreach (var (header, field) in mapping)
        {
            if (!credentials.Any(c => c.Name == field))
            {
                throw context.Binder.Error($"{authPath}.auth_mapping.headers.{header}", $"names credential \"{field}\", which is not declared");
            }
        }
        if (discovery is not null && string.IsNullOrEmpty(discovery.Url))
        {
            throw context.Binder.Error($"{path}.discovery.url", "discovery needs a url");
        }
        return new ConnectionModel(name, mode, type, oauth, credentials, mapping, parameters ?? [], discovery);
    }

    private static OperationModel ResolveOperation(OperationDef operation, string path, string connection, LoadContext context)
    {
        var name = operation.Name is { Length: > 0 } n && SafeName().IsMatch(n)
            ? n
            : throw context.Binder.Error($"{path}.name", "each operation needs a name matching [a-zA-Z0-9._-]+");
        var method = (operation.Method ?? "GET").ToUpperInvariant();
        if (method is not ("GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD"))
        {
            throw context.Binder.Error($"{path}.method", $"unknown HTTP method \"{operation.Method}\"");
        }
        var operationPath = operation.Path is { Length: > 0 } p && p.StartsWith('/') ? p : throw context.Binder.Error($"{path}.path", "path must start with /");
        var placeholders = PathPlaceholder().Matches(operationPath).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var parameters = new List<ParameterModel>();
        foreach (var (parameter, index) in (operation.Parameters ?? []).Select((x, i) => (x, i)))
        {
            var parameterPath = $"{path}.parameters[{index}]";
            if (string.IsNullOrEmpty(parameter.Name))
            {
                throw context.Binder.Error(parameterPath, "each parameter needs a name");
            }
            var location = parameter.In is { Length: > 0 } l ? l
                : placeholders.Contains(parameter.Name) ? "path"
                : method is "GET" or "DELETE" or "HEAD" ? "query" : "body";
            if (location is not ("query" or "body" or "path" or "header"))
            {
                throw context.Binder.Error($"{parameterPath}.in", $"unknown location \"{location}\" (query, body or path)");
            }
            if (location == "path" && !placeholders.Contains(parameter.Name))
            {
                throw context.Binder.Error(parameterPath, $"path parameter \"{parameter.Name}\" does not appear in {operationPath}");
            }
            parameters.Add(new ParameterModel(parameter.Name, parameter.Name, parameter.Type ?? "string", location, parameter.Description ?? "",
                parameter.Required ?? location == "path", parameter.Default, null));
        }
        foreach (var placeholder in placeholders)
        {
            if (!parameters.Any(x => x.Name == placeholder && x.Location == "path"))
            {
                parameters.Add(new ParameterModel(placeholder, placeholder, "string", "path", "", true, null, null));
            }
        }
        return new OperationModel(name, name, method, operationPath, name, operation.Description ?? "", parameters, connection, [], null);
    }

    private static BindingModel ResolveBinding(string name, BindingDef definition, Dictionary<string, IntegrationModel> integrations, LoadContext context)
    {
        var path = $"bindings.{name}";
        if (!SafeName().IsMatch(name))
        {
            throw context.Binder.Error(path, "binding names must match [a-zA-Z0-9._-]+");
        }
        var providers = definition.Providers ?? [];
        foreach (var (provider, index) in providers.Select((p, i) => (p, i)))
        {
            if (!integrations.ContainsKey(provider))
            {
                throw context.Binder.Error($"{path}.providers[{index}]", $"names integration \"{provider}\", which is not defined");
            }
        }
        var config = definition.Config ?? new BindingConfig();
        if (config.Provider is { Length: > 0 } configured && !integrations.ContainsKey(configured))
        {
            throw context.Binder.Error($"{path}.config.provider", $"names integration \"{configured}\", which is not defined");
        }
        var routePath = config.Path is { Length: > 0 } p ? p : "/";
        if (!routePath.StartsWith('/') || routePath.Contains("..", StringComparison.Ordinal))
        {
            throw context.Binder.Error($"{path}.config.path", "path must start with / and not contain ..");
        }
        switch (definition.Type)
        {
            case "webhook":
                var secret = context.Value(config.SigningSecret, $"{path}.config.signing_secret");
                var mode = config.AuthMode is { Length: > 0 } m ? m : "signed";
                if (mode is not ("signed" or "public"))
                {
                    throw context.Binder.Error($"{path}.config.auth_mode", $"unknown auth_mode \"{mode}\" (signed or public)");
                }
                if (mode == "signed" && string.IsNullOrEmpty(secret))
                {
                    throw context.Binder.Error($"{path}.config.signing_secret", "a signed webhook needs signing_secret");
                }
                return new BindingModel(name, "webhook", providers, routePath.TrimEnd('/'), config.Provider ?? providers.FirstOrDefault(), config.Instance,
                    mode, secret, config.SignatureHeader is { Length: > 0 } header ? header : "X-Webhook-Signature", ["POST"]);
            case "proxy":
                var target = config.Provider ?? providers.FirstOrDefault()
                    ?? throw context.Binder.Error($"{path}.providers", "a proxy binding needs the integration it forwards to");
                return new BindingModel(name, "proxy", providers.Count > 0 ? providers : [target], routePath.TrimEnd('/'), target, config.Instance,
                    "proxy", null, "", (config.Methods ?? ["GET", "POST", "PUT", "PATCH", "DELETE"]).Select(x => x.ToUpperInvariant()).ToList());
            default:
                throw context.Binder.Error($"{path}.type", $"unknown binding type \"{definition.Type}\" (webhook or proxy)");
        }
    }

    private static string Required(string? value, string path, LoadContext context) =>
        context.Value(value, path) is { Length: > 0 } resolved ? resolved : throw context.Binder.Error(path, "is required");

    private static Dictionary<string, string> ResolveValues(Dictionary<string, string>? values, string path, LoadContext context) =>
        (values ?? []).ToDictionary(kv => kv.Key, kv => context.Value(kv.Value, $"{path}.{kv.Key}") ?? "", StringComparer.Ordinal);

    /// <summary>Go durations (<c>720h</c>, <c>1h30m</c>, <c>90s</c>) and a day suffix (<c>30d</c>), as gestaltd accepts.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var matches = DurationPart().Matches(text.Trim());
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != text.Trim())
        {
            return null;
        }
        var total = TimeSpan.Zero;
        foreach (Match match in matches)
        {
            var amount = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            total += match.Groups[2].Value switch
            {
                "d" => TimeSpan.FromDays(amount),
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                _ => TimeSpan.Zero,
            };
        }
        return total;
    }

    [GeneratedRegex(@"^[a-zA-Z0-9._-]+$")]
    internal static partial Regex SafeName();

    [GeneratedRegex(@"^[a-z0-9_]+$")]
    private static partial Regex CredentialName();

    [GeneratedRegex(@"\{([^{}/]+)\}")]
    internal static partial Regex PathPlaceholder();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|d|h|m|s)")]
    private static partial Regex DurationPart();

    private sealed class LoadContext(YamlBinder binder, string configDir, SecretsSection? secrets, Func<string, string?> getEnvironment)
    {
        public YamlBinder Binder => binder;
        public string ConfigDir => configDir;

        /// <summary>Resolves <c>secret://name</c> with the configured secrets provider (env or file).</summary>
        public string? Value(string? value, string path)
        {
            if (value is null || !value.StartsWith("secret://", StringComparison.Ordinal))
            {
                return value;
            }
            var name = value["secret://".Length..];
            var provider = secrets?.Provider is { Length: > 0 } p ? p : "env";
            if (provider == "file")
            {
                var dir = secrets?.Config?.Dir ?? throw binder.Error("secrets.config.dir", "the file secrets provider needs dir");
                var file = Path.GetFullPath(name, Path.GetFullPath(dir, configDir));
                return File.Exists(file) && !name.Contains("..", StringComparison.Ordinal)
                    ? File.ReadAllText(file).TrimEnd('\r', '\n')
                    : throw binder.Error(path, $"secret \"{name}\" not found in {dir}");
            }
            if (provider != "env")
            {
                throw binder.Error("secrets.provider", $"unknown secrets provider \"{provider}\" (env or file)");
            }
            var variable = (secrets?.Config?.Prefix ?? "") + name.Replace('-', '_').ToUpperInvariant();
            return getEnvironment(variable) ?? getEnvironment(name)
                ?? throw binder.Error(path, $"secret \"{name}\" not found (environment variable {variable})");
        }
    }
}
