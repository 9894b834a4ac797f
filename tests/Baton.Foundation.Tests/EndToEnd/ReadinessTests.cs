using System.Net;
using System.Text.Json;
using Baton.Testing;

namespace Baton.Foundation.Tests.EndToEnd;

/// <summary>These tests stop parts of the system, so each boots its own.</summary>
[Trait("Category", "Redis")]
public sealed class ReadinessTests
{
    [Fact]
    public async Task Ready_Is503ListingAStoppedService_UntilItIsBack()
    {
        await using var baton = await BatonSystem.StartAsync();
        using var client = baton.CreateClient(authenticated: false);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ready")).StatusCode);

        await baton.StopServiceAsync("chat");
        var notReady = await Eventually.WaitAsync(() => client.GetAsync("/ready"), r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        var body = JsonDocument.Parse(await notReady.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["chat"], body.GetProperty("not_ready").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

        using var authed = baton.CreateClient();
        var status = JsonDocument.Parse(await authed.GetStringAsync("/api/status")).RootElement;
        var chat = status.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "chat");
        Assert.False(chat.GetProperty("healthy").GetBoolean());
        Assert.Contains("Unavailable", chat.GetProperty("error").GetString());

        await baton.StartServiceAsync("chat");
        await Eventually.WaitAsync(async () => (await client.GetAsync("/ready")).StatusCode == HttpStatusCode.OK, what: "ready again");
    }

    [Fact]
    public async Task RedisRestart_IsReportedByReady_AndLiveLogsResumeAfterwards()
    {
        await using var baton = await BatonSystem.StartAsync();
        using var client = baton.CreateClient();

        await baton.StopRedisAsync();
        var notReady = await Eventually.WaitAsync(() => client.GetAsync("/ready"), r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        Assert.Contains("redis", await notReady.Content.ReadAsStringAsync());

        await baton.StartRedisAsync();
        await Eventually.WaitAsync(async () => (await client.GetAsync("/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "ready after Redis is back");

        // Records published after the restart reach a live stream again (subscriptions were restored).
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var response = await client.GetAsync("/api/logs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var marker = Guid.NewGuid().ToString("N");
        await using var reporting = BackgroundLoop.Repeat(_ => LogStreamTests.Report(client, marker), TimeSpan.FromMilliseconds(250), timeout.Token);
        while (true)
        {
            var frame = await reporting.WatchAsync(sse.ReadFrameAsync(timeout.Token));
            Assert.NotNull(frame);
            if (frame.Data.Contains(marker, StringComparison.Ordinal))
            {
                break;
            }
        }
    }

    [Fact]
    public async Task WithAuthDisabled_LoopbackNeedsNoToken_ButForeignHostsAreRefused()
    {
        await using var baton = await BatonSystem.StartAsync(new BatonLaunchOptions { AuthDisabled = true });
        using var client = baton.CreateClient(authenticated: false);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/status")).StatusCode);

        using var rebinding = new HttpRequestMessage(HttpMethod.Get, "/api/status");
        rebinding.Headers.Host = "attacker.example";
        using var refused = await client.SendAsync(rebinding);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }
}
