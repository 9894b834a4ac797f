using Baton.AppHost.Orchestration;
using Baton.Integrations.Bindings;
using Baton.Integrations.Configuration;
using Baton.Integrations.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Integrations.Tests;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-config-test-").FullName;
    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Task<IntegrationsSettings> LoadAsync(string yaml)
    {
        var path = Path.Combine(_dir, "integrations.yaml");
        File.WriteAllText(path, yaml);
        return new ConfigLoader(name => _environment.GetValueOrDefault(name), new HttpClient()).LoadAsync(path, "http://127.0.0.1:8080", CancellationToken.None);
    }

    private const string Minimal = """
        integrations:
          support:
            plugin:
              base_url: https://api.example.com
              auth:
                type: bearer
              operations:
                - name: list_tickets
                  method: GET
                  path: /tickets
                - name: get_ticket
                  path: /tickets/{ticket_id}
        """;

    [Fact]
    public async Task MissingFile_MeansNoIntegrationsAndNoLogin()
    {
        var settings = await new ConfigLoader(_ => null, new HttpClient()).LoadAsync(Path.Combine(_dir, "absent.yaml"), "http://127.0.0.1:9000", CancellationToken.None);
        Assert.Empty(settings.Integrations);
        Assert.Equal("none", settings.Auth.Provider);
        Assert.Equal("http://127.0.0.1:9000/api/v1/auth/callback", settings.Server.OAuthRedirectUrl);
        Assert.Equal(TimeSpan.FromDays(30), settings.Server.ApiTokenTtl);
    }

    [Fact]
    public async Task DeclarativeOperations_GetDefaultsAndImplicitPathParameters()
    {
        var settings = await LoadAsync(Minimal);
        var support = settings.Integrations["support"];
        Assert.Equal("default", support.DefaultConnection);
        Assert.Equal("bearer", support.Connections["default"].AuthType);
        Assert.Equal("token", support.Connections["default"].CredentialFields.Single().Name);
        var get = support.FindOperation("get_ticket")!;
        Assert.Equal("GET", get.Method);
        var parameter = Assert.Single(get.Parameters);
        Assert.Equal(("ticket_id", "path", true), (parameter.Name, parameter.Location, parameter.Required));
    }

    [Fact]
    public async Task UnknownKey_StopsWithTheKeyAndLine()
    {
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync(Minimal.Replace("      auth:", "      auth:\n        typo: 1", StringComparison.Ordinal)));
        Assert.Contains("integrations.yaml:6:", error.Message);
        Assert.Contains("integrations.support.plugin.auth.typo", error.Message);
        Assert.Contains("unknown key \"typo\"", error.Message);
    }

    [Fact]
    public async Task BrokenReferences_StopWithTheKeyAndLine()
    {
        var badDefault = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync(Minimal.Replace("      auth:", "      default_connection: missing\n      auth:", StringComparison.Ordinal)));
        Assert.Contains("integrations.yaml:5: integrations.support.plugin.default_connection", badDefault.Message);

        var badBinding = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync(Minimal + """

            bindings:
              hook:
                type: webhook
                providers: [github]
                config: {path: /events, signing_secret: s}
            """));
        Assert.Contains("bindings.hook.providers[0]", badBinding.Message);
        Assert.Contains("integration \"github\", which is not defined", badBinding.Message);
        Assert.Contains(":16:", badBinding.Message);

        var badAllowed = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync(Minimal + """

                  allowed_operations:
                    delete_everything: {alias: boom}
            """));
        Assert.Contains("allowed_operations.delete_everything", badAllowed.Message);
    }

    [Fact]
    public async Task EnvironmentVariables_AndTheirFileVariants_AreExpanded()
    {
        var secretFile = Path.Combine(_dir, "secret.txt");
        await File.WriteAllTextAsync(secretFile, "from-a-file\n");
        _environment["CLIENT_ID"] = "client-123";
        _environment["CLIENT_SECRET_FILE"] = secretFile;
        var settings = await LoadAsync("""
            integrations:
              github:
                plugin:
                  base_url: https://api.github.com
                  auth:
                    type: oauth2
                    authorization_url: https://github.com/login/oauth/authorize
                    token_url: https://github.com/login/oauth/access_token
                    client_id: ${CLIENT_ID}
                    client_secret: ${CLIENT_SECRET}
                  operations:
                    - {name: me, path: /user}
            """);
        var oauth = settings.Integrations["github"].Connections["default"].OAuth!;
        Assert.Equal("client-123", oauth.ClientId);
        Assert.Equal("from-a-file", oauth.ClientSecret);

        _environment.Remove("CLIENT_SECRET_FILE");
        var missing = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync(File.ReadAllText(Path.Combine(_dir, "integrations.yaml"))));
        Assert.Contains("integrations.yaml:10: ${CLIENT_SECRET} is not set", missing.Message);
    }

    [Fact]
    public async Task OpenApiDocument_IsReadFromAUrl_AndOneThatAnswers404StopsStartup()
    {
        var port = Ports.Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        await using var server = builder.Build();
        server.MapGet("/openapi.yaml", () => Results.Text("""
            openapi: 3.0.3
            info: {title: Remote, version: "1"}
            servers:
              - url: https://api.example.com/v1
            paths:
              /ping:
                get:
                  operationId: ping
                  summary: Ping
                  parameters:
                    - {name: echo, in: query, schema: {type: string}}
                  responses:
                    "200": {description: ok}
            """, "application/yaml"));
        await server.StartAsync();

        var settings = await LoadAsync($"""
            integrations:
              remote:
                plugin:
                  openapi: http://127.0.0.1:{port}/openapi.yaml
            """);
        var remote = settings.Integrations["remote"];
        Assert.Equal("https://api.example.com/v1", remote.BaseUrl);
        var ping = remote.FindOperation("ping")!;
        Assert.Equal(("GET", "/ping"), (ping.Method, ping.Path));
        Assert.Equal(["echo:query"], ping.Parameters.Select(p => $"{p.Name}:{p.Location}"));

        var missing = await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync($"""
            integrations:
              remote:
                plugin:
                  openapi: http://127.0.0.1:{port}/absent.yaml
            """));
        Assert.Contains("integrations.yaml:4: integrations.remote.plugin.openapi", missing.Message);
        Assert.Contains("404", missing.Message);
    }

    [Fact]
    public async Task OpenApiDocument_BecomesOperationsWithParameters()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "api.json"), """
            {"openapi":"3.0.3","info":{"title":"t","version":"1"},"servers":[{"url":"https://api.example.com/v2"}],
             "paths":{"/items/{id}":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
               "get":{"operationId":"items.get","summary":"Get an item","parameters":[{"name":"expand","in":"query","schema":{"type":"boolean"}}],"responses":{"200":{"description":"ok"}}},
               "patch":{"operationId":"items.update","requestBody":{"content":{"application/json":{"schema":{"type":"object","required":["name"],
                 "properties":{"name":{"type":"string"},"count":{"type":"integer"}}}}}},"responses":{"200":{"description":"ok"}}}}}}
            """);
        var settings = await LoadAsync("""
            integrations:
              items:
                plugin:
                  openapi: ./api.json
            """);
        var items = settings.Integrations["items"];
        Assert.Equal("https://api.example.com/v2", items.BaseUrl);
        var get = items.FindOperation("items.get")!;
        Assert.Equal(["id:path:True", "expand:query:False"], get.Parameters.Select(p => $"{p.Name}:{p.Location}:{p.Required}"));
        Assert.Equal("boolean", get.Parameters[1].Type);
        var update = items.FindOperation("items.update")!;
        Assert.Equal("PATCH", update.Method);
        Assert.Contains(update.Parameters, p => p is { Name: "name", Location: "body", Required: true });
        Assert.Contains(update.Parameters, p => p is { Name: "count", Type: "integer" });
    }

    [Fact]
    public async Task DurationsAndAuthProviders_AreValidated()
    {
        var settings = await LoadAsync("server: {api_token_ttl: 7d, base_url: https://baton.example.com/}\nauth: {provider: local, config: {email: me@example.com}}\n");
        Assert.Equal(TimeSpan.FromDays(7), settings.Server.ApiTokenTtl);
        Assert.Equal("https://baton.example.com/api/v1/auth/callback", settings.Server.OAuthRedirectUrl);
        Assert.Equal(("local", "me@example.com"), (settings.Auth.Provider, settings.Auth.LocalEmail));
        await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync("server: {api_token_ttl: forever}\n"));
        await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync("auth: {provider: oidc, config: {client_id: x}}\n"));
        await Assert.ThrowsAsync<ConfigurationException>(() => LoadAsync("auth: {provider: saml}\n"));
        Assert.Equal(TimeSpan.FromMinutes(90), ConfigLoader.ParseDuration("1h30m"));
    }

    [Fact]
    public void Cipher_RoundTrips_AndRefusesACiphertextMovedToAnotherRow()
    {
        var cipher = new CredentialCipher(CredentialCipher.DeriveKey("correct horse battery staple"));
        var sealedData = cipher.Encrypt("secret"u8, "alice\ngithub\ndefault\ndefault");
        Assert.Equal("secret"u8.ToArray(), cipher.Decrypt(sealedData, "alice\ngithub\ndefault\ndefault"));
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => cipher.Decrypt(sealedData, "mallory\ngithub\ndefault\ndefault"));
        Assert.Equal(32, CredentialCipher.DeriveKey(new string('a', 64)).Length);
    }

    [Fact]
    public void WebhookSignature_AcceptsOnlyTheRightHmac()
    {
        var body = "{\"a\":1}"u8.ToArray();
        var good = Convert.ToHexString(System.Security.Cryptography.HMACSHA256.HashData("s3cret"u8, body));
        Assert.True(BindingEndpoints.SignatureMatches("s3cret", body, good));
        Assert.True(BindingEndpoints.SignatureMatches("s3cret", body, "sha256=" + good.ToLowerInvariant()));
        Assert.False(BindingEndpoints.SignatureMatches("other", body, good));
        Assert.False(BindingEndpoints.SignatureMatches("s3cret", body, "zz"));
        Assert.False(BindingEndpoints.SignatureMatches("s3cret", body, ""));
    }
}
