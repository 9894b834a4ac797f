using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.AppHost.Orchestration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Gateway.Tests;

/// <summary>A request the local upstream API received for an integration operation.</summary>
public sealed record UpstreamCall(string Method, string Path, string Query, string? ApiKey, string Body);

// What the integrations rows need from the system: set before it starts, seeded after, removed at the end.
// integrations.yaml (BATON_INTEGRATIONS_CONFIG, gestaltd's format) declares, against a local upstream HTTP API:
//   echo   manual credential sent as X-Api-Key; GET/POST operations, an upstream 404 and a slow route
//   hub    OAuth2 (its authorization endpoint is only linked to, never called): 412 before connecting
//   spare  manual, connected and disconnected by the DELETE row
//   twin   manual, connected twice (two instances) for the ambiguous-instance 409
//   down   no credentials, its base_url a port nobody listens on (502)
// and the `local` platform login provider, so a login completes without a browser.
public sealed partial class RouteSuiteFixture
{
    public const string IntegrationsUser = "routes@example.com";
    public const string EchoApiKey = "echo-key-9f8e7d6c5b4a";
    /// <summary>An invocation that outlives this is a 504 (the slow route never answers before it).</summary>
    public const int InvokeTimeoutSeconds = 10;

    private WebApplication? _upstream;
    private string _integrationsDir = "";
    private readonly TaskCompletionSource _upstreamStopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Every request the local upstream API received, in order.</summary>
    public ConcurrentQueue<UpstreamCall> UpstreamCalls { get; } = new();
    public Uri UpstreamUrl { get; private set; } = null!;

    private async Task ConfigureIntegrationsAsync(BatonLaunchOptions options)
    {
        UpstreamUrl = new Uri($"http://127.0.0.1:{Ports.Free()}/");
        _upstream = BuildUpstream(UpstreamUrl);
        await _upstream.StartAsync();
        // Pay the in-process server's JIT now, not inside the first invocation's timeout.
        using (var warmup = new HttpClient { Timeout = TimeSpan.FromMinutes(2) })
        {
            (await warmup.GetAsync(new Uri(UpstreamUrl, "items/warmup"))).Dispose();
        }
        _integrationsDir = TestEnvironment.NewDirectory("baton-routes-integrations");
        var config = Path.Combine(_integrationsDir, "integrations.yaml");
        await File.WriteAllTextAsync(config, IntegrationsYaml(UpstreamUrl, closedPort: Ports.Free()));
        options.Environment["BATON_INTEGRATIONS_CONFIG"] = config;
        options.Environment["BATON_INVOKE_TIMEOUT_SECONDS"] = InvokeTimeoutSeconds.ToString(CultureInfo.InvariantCulture);
    }

    private static Task SeedIntegrationsAsync() => Task.CompletedTask;

    private async ValueTask DisposeIntegrationsAsync()
    {
        _upstreamStopping.TrySetResult();
        if (_upstream is not null)
        {
            await _upstream.DisposeAsync();
        }
        TestEnvironment.DeleteQuietly(_integrationsDir);
    }

    private WebApplication BuildUpstream(Uri url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url.ToString().TrimEnd('/'));
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
            context.Request.Body.Position = 0;
            UpstreamCalls.Enqueue(new UpstreamCall(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "",
                context.Request.Headers["X-Api-Key"].ToString() is { Length: > 0 } key ? key : null, body));
            await next(context);
        });

        // The upstream checks the credential itself, as a real API would: only the stored key opens it.
        static IResult? RequireKey(HttpContext http) => http.Request.Headers["X-Api-Key"] == EchoApiKey
            ? null
            : Results.Json(new JsonObject { ["message"] = "bad api key" }, statusCode: 401);

        app.MapGet("/items/{id}", (HttpContext http, string id) => id == "warmup"
            ? Results.Ok()
            : RequireKey(http) ?? Results.Json(new JsonObject { ["id"] = id, ["verbose"] = http.Request.Query["verbose"].ToString() }));
        app.MapPost("/items", async (HttpContext http) =>
        {
            if (RequireKey(http) is { } refused)
            {
                return refused;
            }
            var body = await JsonSerializer.DeserializeAsync<JsonObject>(http.Request.Body, cancellationToken: http.RequestAborted);
            return Results.Json(new JsonObject { ["created"] = true, ["title"] = body?["title"]?.DeepClone(), ["tags"] = body?["tags"]?.DeepClone() }, statusCode: 201);
        });
        app.MapGet("/missing", () => Results.Text("no such item", "text/plain; charset=utf-8", statusCode: 404));
        app.MapGet("/whoami", (HttpContext http) => RequireKey(http) ?? Results.Json(new JsonObject { ["ok"] = true }));
        // Answers only when the caller gives up (or the suite ends): the invocation times out first.
        app.MapGet("/slow", async (HttpContext http) =>
        {
            await Task.WhenAny(_upstreamStopping.Task, Task.Delay(Timeout.Infinite, http.RequestAborted));
            return Results.Ok();
        });
        return app;
    }

    private static string IntegrationsYaml(Uri upstream, int closedPort) => $$"""
        # Written by the gateway route suite (gestaltd's format).
        auth:
          provider: local
          config:
            email: {{IntegrationsUser}}
        server:
          api_token_ttl: 720h
        integrations:
          echo:
            display_name: Echo
            description: A local API behind an API key
            plugin:
              base_url: {{upstream.ToString().TrimEnd('/')}}
              auth:
                type: manual
                credentials:
                  - {name: api_key, label: API Key, help_url: https://example.com/keys}
                auth_mapping:
                  headers:
                    X-Api-Key: api_key
              operations:
                - name: get_item
                  description: One item
                  method: GET
                  path: /items/{id}
                  parameters:
                    - {name: id, in: path, required: true}
                    - {name: verbose, type: boolean, in: query}
                - name: create_item
                  description: Create an item
                  method: POST
                  path: /items
                  parameters:
                    - {name: title, in: body, required: true}
                    - {name: tags, type: array, in: body}
                - {name: missing, method: GET, path: /missing}
                - {name: slow, method: GET, path: /slow}
          hub:
            display_name: Hub
            plugin:
              base_url: {{upstream.ToString().TrimEnd('/')}}
              auth:
                type: oauth2
                authorization_url: {{upstream}}authorize
                token_url: {{upstream}}token
                client_id: routes-client
                client_secret: routes-secret
                scopes: [repo]
              operations:
                - {name: me, method: GET, path: /me}
          spare:
            plugin:
              base_url: {{upstream.ToString().TrimEnd('/')}}
              auth:
                type: manual
                credentials:
                  - {name: api_key}
                auth_mapping:
                  headers:
                    X-Api-Key: api_key
              operations:
                - {name: whoami, method: GET, path: /whoami}
          twin:
            plugin:
              base_url: {{upstream.ToString().TrimEnd('/')}}
              auth:
                type: manual
                credentials:
                  - {name: api_key}
                auth_mapping:
                  headers:
                    X-Api-Key: api_key
              operations:
                - {name: whoami, method: GET, path: /whoami}
          down:
            plugin:
              base_url: http://127.0.0.1:{{closedPort}}
              auth:
                type: none
              operations:
                - {name: ping, method: GET, path: /ping}
        """;
}
