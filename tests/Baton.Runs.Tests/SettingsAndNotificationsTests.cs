using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Runs.Tests;

public sealed class SettingsAndNotificationsTests
{
    [Fact]
    public async Task Settings_HaveDocumentedDefaults()
    {
        await using var host = await RunsHost.StartAsync();
        var models = await host.GetJsonAsync("/api/settings/models");
        var providers = models["providers"]!.AsArray();
        Assert.Equal(["claude-code", "codex"], providers.Select(p => (string)p!["id"]!));
        Assert.Contains(providers[0]!["models"]!.AsArray(), m => (string?)m!["id"] == "claude-sonnet-4-6" && (string?)m["name"] == "Sonnet 4.6");
        Assert.Equal(3, providers[1]!["models"]!.AsArray().Count);

        var notifications = await host.GetJsonAsync("/api/settings/notifications");
        Assert.Equal("", (string?)notifications["discord_webhook_url"]);
        Assert.True((bool)notifications["notify_on_pipeline_complete"]!);
        Assert.True((bool)notifications["notify_on_run_failed"]!);
    }

    [Theory]
    [InlineData("/api/settings/models", "not json")]
    [InlineData("/api/settings/models", "{\"providers\":\"x\"}")]
    [InlineData("/api/settings/models", "{\"providers\":[{\"id\":5,\"models\":[]}]}")]
    [InlineData("/api/settings/models", "{\"providers\":[{\"id\":\"a\",\"models\":[{\"id\":\"m\",\"name\":3}]}]}")]
    [InlineData("/api/settings/notifications", "{\"notify_on_run_failed\":\"yes\"}")]
    [InlineData("/api/settings/notifications", "{\"discord_webhook_url\":42}")]
    [InlineData("/api/settings/notifications", "{\"discord_webhook_url\":\"ftp://x\"}")]
    [InlineData("/api/settings/notifications", "[1]")]
    public async Task PutSettings_Invalid_Returns400_AndSavesNothing(string path, string body)
    {
        await using var host = await RunsHost.StartAsync();
        var before = (await host.GetJsonAsync(path)).ToJsonString();
        using var response = await host.Http.PutAsync(path, Text.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, (await host.GetJsonAsync(path)).ToJsonString());
    }

    [Fact]
    public async Task PutSettings_Valid_IsSavedAndReturned()
    {
        await using var host = await RunsHost.StartAsync();
        var models = "{\"providers\":[{\"id\":\"claude-code\",\"name\":\"Claude\",\"models\":[{\"id\":\"claude-sonnet-4-6\",\"name\":\"Sonnet 4.6\",\"description\":\"Fast, balanced\"}]}]}";
        using var put = await host.Http.PutAsync("/api/settings/models", Text.Json(models));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(JsonNode.Parse(models)!.ToJsonString(), (await host.GetJsonAsync("/api/settings/models")).ToJsonString());

        using var notifications = await host.Http.PutAsync("/api/settings/notifications", Text.Json("{\"notify_on_run_failed\":false}"));
        Assert.Equal(HttpStatusCode.OK, notifications.StatusCode);
        var saved = await host.GetJsonAsync("/api/settings/notifications");
        Assert.False((bool)saved["notify_on_run_failed"]!);
        Assert.True((bool)saved["notify_on_pipeline_complete"]!);
    }

    [Fact]
    public async Task Discord_GetsContentMessages_RetriedAfterFailures_NeverFailingTheRun()
    {
        await using var discord = await FakeDiscord.StartAsync(failFirst: 2);
        await using var host = await RunsHost.StartAsync();
        using (await host.Http.PutAsync("/api/settings/notifications", Text.Json($"{{\"discord_webhook_url\":\"{discord.Url}\"}}")))
        {
        }
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });

        // notify on: completion is announced (after two failed deliveries, retried).
        var notified = (string)(await host.CreateRunAsync((string)agent["id"]!, "SLEEP"))["id"]!;
        await host.WaitForStatusAsync(notified, "running");
        await Eventually.WaitAsync(async () => (await host.GetRunAsync(notified))["session_id"] is JsonValue, TimeSpan.FromSeconds(10), () => "no session id");
        await host.PostJsonAsync($"/api/runs/{notified}/notify", new { notify = true });
        Assert.True((bool)(await host.GetRunAsync(notified))["notify"]!);
        await host.PostJsonAsync($"/api/runs/{notified}/pause", new { });
        await host.PostJsonAsync($"/api/runs/{notified}/continue", new { message = "finish" });
        await host.WaitForStatusAsync(notified, "completed");
        await Eventually.WaitAsync(() => discord.Received.Any(m => m.Contains("completed", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), () => "no completion message");
        Assert.True(discord.Attempts >= 3);

        // A failed run is announced by the global flag; needs attention always.
        var failing = (string)(await host.CreateRunAsync((string)agent["id"]!, "FAIL ATTENTION"))["id"]!;
        await host.WaitForStatusAsync(failing, "failed");
        await Eventually.WaitAsync(() => discord.Received.Any(m => m.Contains("failed", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), () => "no failure message");
        await Eventually.WaitAsync(() => discord.Received.Any(m => m.Contains("needs attention", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), () => "no attention message");
    }

    [Fact]
    public async Task Discord_Down_DoesNotFailTheRun()
    {
        // "Down": every delivery fails with a 500, so the notifier retries and gives up.
        await using var discord = await FakeDiscord.StartAsync(failFirst: int.MaxValue);
        await using var host = await RunsHost.StartAsync();
        using (var put = await host.Http.PutAsync("/api/settings/notifications", Text.Json($"{{\"discord_webhook_url\":\"{discord.Url}\"}}")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!);
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "ATTENTION"))["id"]!;
        await host.PostJsonAsync($"/api/runs/{runId}/notify", new { notify = true });
        var run = await host.WaitForStatusAsync(runId, "completed");
        Assert.True(string.IsNullOrEmpty((string?)run["failure_reason"]), run.ToJsonString());
        await Eventually.WaitAsync(() => discord.Attempts >= 1, TimeSpan.FromSeconds(20), () => "the notifier never tried to deliver");
        Assert.Empty(discord.Received);
    }

    private sealed class FakeDiscord : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _attempts;

        private FakeDiscord(WebApplication app) => _app = app;

        public ConcurrentQueue<string> Received { get; } = new();
        public int Attempts => Volatile.Read(ref _attempts);
        public string Url => _app.Urls.First() + "/api/webhooks/1/token";

        public static async Task<FakeDiscord> StartAsync(int failFirst)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var fake = new FakeDiscord(app);
            app.MapPost("/api/webhooks/1/token", async (HttpContext context) =>
            {
                var attempt = Interlocked.Increment(ref fake._attempts);
                if (attempt <= failFirst)
                {
                    return Results.StatusCode(500);
                }
                var body = await context.Request.ReadFromJsonAsync<JsonObject>();
                fake.Received.Enqueue((string)body!["content"]!);
                return Results.NoContent();
            });
            await app.StartAsync();
            return fake;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
