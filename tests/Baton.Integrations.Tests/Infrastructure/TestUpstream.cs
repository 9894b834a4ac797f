using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Baton.AppHost.Orchestration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Integrations.Tests.Infrastructure;

public sealed record UpstreamRequest(string Method, string Path, string Query, string? Authorization, string? ApiKey, string? ClientHeader, string Body);

/// <summary>
/// A local upstream API that the integrations invoke: bearer-protected routes that accept only
/// tokens the test OAuth server issued, an API-key route, a discovery list of tenants, and routes
/// that answer unusual statuses and content types. Every request is recorded.
/// </summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestUpstream(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }
    public ConcurrentQueue<UpstreamRequest> Requests { get; } = new();
    public Func<string, bool> IsValidBearer { get; set; } = _ => false;

    public static async Task<TestUpstream> StartAsync()
    {
        var port = Ports.Free();
        var baseUrl = new Uri($"http://127.0.0.1:{port}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(baseUrl.ToString().TrimEnd('/'));
        var app = builder.Build();
        var upstream = new TestUpstream(app, baseUrl);

        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
            context.Request.Body.Position = 0;
            upstream.Requests.Enqueue(new UpstreamRequest(context.Request.Method, context.Request.Path, context.Request.QueryString.Value ?? "",
                context.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null,
                context.Request.Headers["X-Api-Key"].ToString() is { Length: > 0 } k ? k : null,
                context.Request.Headers["X-Client"].ToString() is { Length: > 0 } c ? c : null, body));
            await next(context);
        });

        IResult? RequireBearer(HttpContext http)
        {
            var header = http.Request.Headers.Authorization.ToString();
            return header.StartsWith("Bearer ", StringComparison.Ordinal) && upstream.IsValidBearer(header[7..])
                ? null
                : Results.Json(new JsonObject { ["message"] = "Bad credentials" }, statusCode: 401);
        }

        app.MapGet("/user", (HttpContext http) => RequireBearer(http) ?? Results.Json(new JsonObject { ["login"] = "octocat", ["per_page"] = http.Request.Query["per_page"].ToString() }));
        app.MapPost("/repos/{owner}/{repo}/issues", async (HttpContext http, string owner, string repo) =>
        {
            if (RequireBearer(http) is { } refused)
            {
                return refused;
            }
            var body = await System.Text.Json.JsonSerializer.DeserializeAsync<JsonObject>(http.Request.Body, cancellationToken: http.RequestAborted);
            return Results.Json(new JsonObject { ["owner"] = owner, ["repo"] = repo, ["title"] = body?["title"]?.DeepClone(), ["labels"] = body?["labels"]?.DeepClone() }, statusCode: 201);
        });
        app.MapGet("/teapot", () => Results.Text("short and stout", "text/plain; charset=utf-8", statusCode: 418));
        app.MapGet("/notfound", () => Results.Json(new JsonObject { ["code"] = 404, ["message"] = "upstream says no" }, statusCode: 404));
        app.MapGet("/whoami", (HttpContext http) => http.Request.Headers["X-Api-Key"].ToString() is { Length: > 0 } key
            ? Results.Json(new JsonObject { ["key_length"] = key.Length })
            : Results.Json(new JsonObject { ["message"] = "no key" }, statusCode: 401));
        app.MapGet("/tenants", () => Results.Json(new JsonArray(
            new JsonObject { ["id"] = "t-1", ["name"] = "Tenant One", ["slug"] = "one" },
            new JsonObject { ["id"] = "t-2", ["name"] = "Tenant Two", ["slug"] = "two" })));
        // Where the flows' post_webhook activity delivers (the request is recorded above).
        app.MapPost("/flow-hook", () => Results.Ok());
        app.MapGet("/t/{slug}/info", (string slug) => Results.Json(new JsonObject { ["tenant"] = slug }));
        app.MapGet("/slow", async (HttpContext http) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), http.RequestAborted);
            return Results.Ok();
        });
        app.Map("/proxied/{**rest}", (HttpContext http, string? rest) => RequireBearer(http) ?? Results.Json(new JsonObject
        {
            ["method"] = http.Request.Method,
            ["path"] = "/" + rest,
            ["query"] = http.Request.QueryString.Value ?? "",
            ["proxy_authorization_forwarded"] = http.Request.Headers.ContainsKey("Proxy-Authorization"),
            ["cookie_forwarded"] = http.Request.Headers.ContainsKey("Cookie"),
        }));
        await app.StartAsync();
        return upstream;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
