using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Baton.Testing;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Tests.Infrastructure;

[CollectionDefinition(Name)]
public sealed class IntegrationsCollection : ICollectionFixture<IntegrationsFixture>
{
    public const string Name = "integrations system";
}

/// <summary>
/// One Baton system for the integration tests, with integrations.yaml pointing at a real OpenIddict
/// authorization server (platform login and integration OAuth), a second one whose access tokens
/// live 5 s (refresh), and a local upstream API. Tests stay independent by signing in as their own
/// user (OIDC login), so each has its own connections and tokens.
/// </summary>
public sealed class IntegrationsFixture : IAsyncLifetime
{
    public const string WebhookSecret = "whsec-test-0123456789";
    public const string OAuthClientSecretEnv = "TEST_OAUTH_CLIENT_SECRET";

    public BatonSystem System { get; private set; } = null!;
    public TestOAuthServer Auth { get; private set; } = null!;
    public TestOAuthServer ShortAuth { get; private set; } = null!;
    public TestUpstream Upstream { get; private set; } = null!;
    public string ConfigDir { get; private set; } = null!;
    public Uri Gateway => System.GatewayUrl;

    public async Task InitializeAsync()
    {
        Auth = await TestOAuthServer.StartAsync(TimeSpan.FromHours(1));
        ShortAuth = await TestOAuthServer.StartAsync(TimeSpan.FromSeconds(5));
        Upstream = await TestUpstream.StartAsync();
        // The first request to an in-process server pays its JIT; on a loaded machine that can take
        // longer than Baton's 30 s timeout for identity providers, so pay it before Baton starts.
        using (var warmup = new HttpClient { Timeout = TimeSpan.FromMinutes(2) })
        {
            foreach (var server in new[] { Auth, ShortAuth })
            {
                (await warmup.GetAsync(new Uri(server.Issuer, ".well-known/openid-configuration"))).Dispose();
                (await warmup.GetAsync(new Uri(server.Issuer, ".well-known/jwks"))).Dispose();
            }
        }
        Upstream.IsValidBearer = token => Auth.IssuedAccessTokens.Contains(token) || ShortAuth.IssuedAccessTokens.Contains(token);
        ConfigDir = Directory.CreateTempSubdirectory("baton-integrations-config-").FullName;
        await File.WriteAllTextAsync(Path.Combine(ConfigDir, "integrations.yaml"), ConfigYaml(Auth, ShortAuth, Upstream));
        await File.WriteAllTextAsync(Path.Combine(ConfigDir, "openapi.yaml"), OpenApiYaml(Upstream));
        await File.WriteAllTextAsync(Path.Combine(ConfigDir, "github.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        // An agent profile (BATON_CONFIG_DIR/agents) for the MCP session tools: cat in a PTY echoes what is typed.
        Directory.CreateDirectory(Path.Combine(ConfigDir, "agents"));
        await File.WriteAllTextAsync(Path.Combine(ConfigDir, "agents", "cat.toml"), "name = \"Cat\"\nshell = \"cat\"\nsingleton = false\n");
        var options = new BatonLaunchOptions();
        options.Environment["BATON_CONFIG_DIR"] = ConfigDir;
        options.Environment["TEST_ISSUER"] = Auth.Issuer.ToString().TrimEnd('/');
        options.Environment[OAuthClientSecretEnv] = TestOAuthServer.ClientSecret;
        options.Environment["TEST_WEBHOOK_SECRET"] = WebhookSecret;
        options.Environment["BATON_INVOKE_TIMEOUT_SECONDS"] = "3";
        System = await BatonSystem.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("BATON_TEST_DUMP_OUTPUT") is { Length: > 0 } dump)
        {
            await File.WriteAllTextAsync(dump, System.Output);
        }
        await System.DisposeAsync();
        await Auth.DisposeAsync();
        await ShortAuth.DisposeAsync();
        await Upstream.DisposeAsync();
        Directory.Delete(ConfigDir, recursive: true);
    }

    /// <summary>A client of the gateway that does not follow redirects (the tests follow them, as a browser would, step by step).</summary>
    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = Gateway, Timeout = TimeSpan.FromSeconds(60) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        return client;
    }

    public static string NewEmail(string what) => $"{what}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant()}@example.com";

    /// <summary>Signs in through OIDC as <paramref name="email"/> and returns the session token from the session_token cookie.</summary>
    public async Task<string> LoginAsync(string email)
    {
        using var client = Client();
        var (callback, _) = await StartLoginAsync(client, email);
        using var response = await client.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("session_token=", StringComparison.Ordinal));
        return cookie["session_token=".Length..cookie.IndexOf(';')];
    }

    /// <summary>POST /api/v1/auth/login, then the provider's authorization endpoint: returns the gateway callback URL the browser is sent to.</summary>
    public async Task<(string CallbackUrl, string LoginUrl)> StartLoginAsync(HttpClient client, string email)
    {
        using var start = await client.PostAsJsonAsync("/api/v1/auth/login", new { state = "client-state" });
        Assert.Equal(HttpStatusCode.OK, start.StatusCode);
        var url = (await start.Content.ReadFromJsonAsync<JsonObject>())!["url"]!.GetValue<string>();
        var state = QueryHelpers.ParseQuery(new Uri(url).Query)["state"].ToString();
        Auth.SignInAs(state, email);
        using var provider = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var authorize = await provider.GetAsync(url);
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        return (authorize.Headers.Location!.ToString(), url);
    }

    /// <summary>The integration OAuth round trip: start-oauth, the provider's consent (automatic), the callback.</summary>
    public async Task<HttpResponseMessage> ConnectOAuthAsync(string session, string integration, string? instance = null)
    {
        using var client = Client(session);
        using var start = await client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration, instance = instance ?? "" });
        Assert.Equal(HttpStatusCode.OK, start.StatusCode);
        var body = (await start.Content.ReadFromJsonAsync<JsonObject>())!;
        using var provider = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var authorize = await provider.GetAsync(body["url"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
        // The browser arrives at the gateway's callback without Baton credentials: the state identifies the user.
        using var browser = Client();
        return await browser.GetAsync(authorize.Headers.Location);
    }

    private static string ConfigYaml(TestOAuthServer auth, TestOAuthServer shortAuth, TestUpstream upstream) => $$"""
        # Written by the integration tests: gestaltd's format.
        auth:
          provider: oidc
          config:
            issuer_url: ${TEST_ISSUER}
            client_id: {{TestOAuthServer.ClientId}}
            client_secret: ${{{OAuthClientSecretEnv}}}
            pkce: true
            display_name: Test SSO
        server:
          api_token_ttl: 720h
        integrations:
          github:
            display_name: GitHub
            description: Test GitHub
            icon_file: ./github.svg
            mcp_tool_prefix: gh_
            plugin:
              base_url: {{upstream.BaseUrl}}
              auth:
                type: oauth2
                authorization_url: {{auth.AuthorizeUrl}}
                token_url: {{auth.TokenUrl}}
                client_id: {{TestOAuthServer.ClientId}}
                client_secret: ${{{OAuthClientSecretEnv}}}
                scopes: [repo]
              operations:
                - name: get_user
                  description: The signed-in user
                  method: GET
                  path: /user
                  parameters:
                    - {name: per_page, type: integer, in: query}
                - name: create_issue
                  description: Open an issue
                  method: POST
                  path: /repos/{owner}/{repo}/issues
                  parameters:
                    - {name: owner, in: path, required: true}
                    - {name: repo, in: path, required: true}
                    - {name: title, in: body, required: true}
                    - {name: labels, type: array, in: body}
                - {name: teapot, method: GET, path: /teapot}
                - {name: not_found, method: GET, path: /notfound}
                - {name: slow, method: GET, path: /slow}
          shortlived:
            plugin:
              base_url: {{upstream.BaseUrl}}
              auth:
                type: oauth2
                authorization_url: {{shortAuth.AuthorizeUrl}}
                token_url: {{shortAuth.TokenUrl}}
                client_id: {{TestOAuthServer.ClientId}}
                client_secret: ${{{OAuthClientSecretEnv}}}
                scopes: [read, offline_access]
              operations:
                - {name: get_user, method: GET, path: /user}
          apikeys:
            display_name: API keys
            plugin:
              base_url: {{upstream.BaseUrl}}
              headers:
                X-Client: baton-tests
              auth:
                type: manual
                credentials:
                  - {name: api_key, label: API Key, help_url: https://example.com/keys}
                auth_mapping:
                  headers:
                    X-Api-Key: api_key
              operations:
                - {name: whoami, method: GET, path: /whoami}
          tenants:
            plugin:
              base_url: {{upstream.BaseUrl}}t/{slug}
              auth:
                type: bearer
              params:
                slug: {from: discovery}
              discovery:
                url: {{upstream.BaseUrl}}tenants
                id_path: id
                name_path: name
                metadata: {slug: slug}
              operations:
                - {name: info, method: GET, path: /info}
          petstore:
            plugin:
              openapi: ./openapi.yaml
              allowed_operations:
                getTeapot: {alias: brew}
        bindings:
          github_events:
            type: webhook
            providers: [github]
            config:
              path: /events
              signing_secret: ${TEST_WEBHOOK_SECRET}
          github_proxy:
            type: proxy
            providers: [github]
            config:
              path: /api
        """;

    private static string OpenApiYaml(TestUpstream upstream) => $$"""
        openapi: 3.0.3
        info: {title: Petstore, version: "1.0"}
        servers:
          - url: {{upstream.BaseUrl.ToString().TrimEnd('/')}}
        paths:
          /teapot:
            get:
              operationId: getTeapot
              summary: Brew tea
              responses:
                "418": {description: a teapot}
          /tenants:
            get:
              operationId: listTenants
              summary: Tenants
              parameters:
                - {name: limit, in: query, schema: {type: integer}, description: At most this many}
              responses:
                "200": {description: ok}
        """;
}
