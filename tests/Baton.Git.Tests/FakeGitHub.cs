using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Baton.Git.Tests;

/// <summary>A local HTTP server that speaks GitHub's create-pull-request and list-pulls shapes and checks the token.</summary>
public sealed class FakeGitHub : IAsyncDisposable
{
    public const string Token = "ghp_test_token_123";

    private readonly WebApplication _app;
    private int _next = 41;

    public ConcurrentQueue<(string Path, JsonObject Body)> Created { get; } = new();
    public ConcurrentDictionary<string, JsonObject> Pulls { get; } = new();

    private FakeGitHub(WebApplication app) => _app = app;

    public string BaseUrl => _app.Urls.First();

    public static async Task<FakeGitHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var fake = new FakeGitHub(app);
        app.Use(async (context, next) =>
        {
            if (context.Request.Headers.Authorization != "Bearer " + Token)
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsJsonAsync(new { message = "Bad credentials", documentation_url = "https://docs.github.com/rest" });
                return;
            }
            await next(context);
        });
        app.MapPost("/repos/{owner}/{repo}/pulls", async (string owner, string repo, HttpContext context) =>
        {
            var body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
            fake.Created.Enqueue(($"{owner}/{repo}", body));
            var head = body["head"]?.GetValue<string>();
            if (string.IsNullOrEmpty(body["title"]?.GetValue<string>()) || string.IsNullOrEmpty(head) || string.IsNullOrEmpty(body["base"]?.GetValue<string>()))
            {
                return Results.Json(new { message = "Validation Failed", errors = new[] { new { resource = "PullRequest", code = "missing_field" } } }, statusCode: 422);
            }
            if (fake.Pulls.ContainsKey($"{owner}/{repo}:{head}"))
            {
                return Results.Json(new { message = "Validation Failed", errors = new[] { new { message = $"A pull request already exists for {owner}:{head}." } } }, statusCode: 422);
            }
            var number = Interlocked.Increment(ref fake._next);
            var pull = new JsonObject
            {
                ["number"] = number,
                ["html_url"] = $"https://github.com/{owner}/{repo}/pull/{number}",
                ["state"] = "open",
                ["title"] = body["title"]!.GetValue<string>(),
                ["merged_at"] = null,
                ["head"] = new JsonObject { ["ref"] = head },
            };
            fake.Pulls[$"{owner}/{repo}:{head}"] = pull;
            return Results.Json(pull, statusCode: 201);
        });
        app.MapGet("/repos/{owner}/{repo}/pulls", (string owner, string repo, string? head) =>
        {
            var branch = head?.Split(':', 2)[^1];
            var matches = fake.Pulls.Where(p => p.Key == $"{owner}/{repo}:{branch}").Select(p => p.Value.DeepClone()).ToArray();
            return Results.Json(matches);
        });
        await app.StartAsync();
        return fake;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
