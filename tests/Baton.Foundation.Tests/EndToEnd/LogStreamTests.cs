using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Baton.Testing;

namespace Baton.Foundation.Tests.EndToEnd;

[Collection(SystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class LogStreamTests(SystemFixture fixture)
{
    private BatonSystem Baton => fixture.System;

    [Fact]
    public async Task Sse_StartsWithRetry_SendsIdsInOrder_AndPingsWhileIdle()
    {
        using var client = Baton.CreateClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await client.GetAsync("/api/logs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var first = await sse.ReadFrameAsync(timeout.Token);
        Assert.Equal(5000, first!.Retry);

        var markers = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid().ToString("N")).ToList();
        foreach (var marker in markers)
        {
            await Report(client, marker);
        }
        var ids = new List<long>();
        var seen = new List<string>();
        var pinged = false;
        while (seen.Count < markers.Count || !pinged)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token);
            Assert.NotNull(frame);
            if (frame.Comment == "ping")
            {
                pinged = true;
                continue;
            }
            Assert.NotNull(frame.Id);
            ids.Add(long.Parse(frame.Id, System.Globalization.CultureInfo.InvariantCulture));
            var marker = markers.FirstOrDefault(m => frame.Data.Contains(m, StringComparison.Ordinal));
            if (marker is not null)
            {
                seen.Add(marker);
            }
        }
        Assert.Equal(markers, seen);
        Assert.True(ids.Zip(ids.Skip(1)).All(p => p.First < p.Second), "ids strictly increase");
    }

    [Fact]
    public async Task Sse_ResumesAfterLastEventId_WithoutDuplicates()
    {
        using var client = Baton.CreateClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var before = Guid.NewGuid().ToString("N");
        var after = Guid.NewGuid().ToString("N");

        string resumeFrom;
        using (var response = await client.GetAsync("/api/logs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token))
        using (var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token)))
        {
            await Report(client, before);
            resumeFrom = (await ReadUntil(sse, before, timeout.Token)).Id!;
        }

        // Logged while no client is connected.
        await Report(client, after);
        await Eventually.WaitAsync(() => Task.FromResult(Baton.Output.Contains(after, StringComparison.Ordinal)));

        using var resumed = new HttpRequestMessage(HttpMethod.Get, "/api/logs/stream");
        resumed.Headers.Add("Last-Event-ID", resumeFrom);
        using var again = await client.SendAsync(resumed, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var replay = new SseReader(await again.Content.ReadAsStreamAsync(timeout.Token));
        var frames = new List<SseFrame>();
        while (true)
        {
            var frame = await replay.ReadFrameAsync(timeout.Token);
            Assert.NotNull(frame);
            if (frame.Id is null)
            {
                continue;
            }
            frames.Add(frame);
            if (frame.Data.Contains(after, StringComparison.Ordinal))
            {
                break;
            }
        }
        Assert.DoesNotContain(frames, f => f.Data.Contains(before, StringComparison.Ordinal));
        Assert.All(frames, f => Assert.True(long.Parse(f.Id!, System.Globalization.CultureInfo.InvariantCulture) > long.Parse(resumeFrom, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(frames.Count, frames.Select(f => f.Id).Distinct().Count());
    }

    [Fact]
    public async Task ClientDisconnect_FreesTheServerSideSubscription()
    {
        using var client = Baton.CreateClient();
        // Streams of the tests before this one (same system) are released asynchronously: start from none.
        await Eventually.WaitAsync(async () => await Subscribers(client) == 0, what: "earlier tests' streams are released");
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            using var response = await client.GetAsync("/api/logs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
            await sse.ReadFrameAsync(timeout.Token);
            await Eventually.WaitAsync(async () => await Subscribers(client) == 1, what: "the stream is counted");
        }
        await Eventually.WaitAsync(async () => await Subscribers(client) == 0, what: "the stream is released after disconnect");
    }

    [Fact]
    public async Task WebSocket_DeliversRecordsAsJsonTextFrames()
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {Baton.Token}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"ws://{Baton.GatewayUrl.Authority}/ws/logs"), timeout.Token);
        using var client = Baton.CreateClient();
        var marker = Guid.NewGuid().ToString("N");
        await Report(client, marker);
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            var text = Encoding.UTF8.GetString(buffer, 0, result.Count);
            if (!text.Contains(marker, StringComparison.Ordinal))
            {
                continue;
            }
            var record = JsonDocument.Parse(text).RootElement;
            Assert.Equal("gateway", record.GetProperty("service").GetString());
            Assert.True(record.GetProperty("id").GetInt64() > 0);
            Assert.False(record.GetProperty("replay").GetBoolean());
            break;
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    private static async Task<long> Subscribers(HttpClient client)
    {
        var status = JsonDocument.Parse(await client.GetStringAsync("/api/status")).RootElement;
        return status.GetProperty("gateway").GetProperty("counters").TryGetProperty("log_subscribers", out var value)
            ? long.Parse(value.ToString(), System.Globalization.CultureInfo.InvariantCulture)
            : 0;
    }

    private static async Task<SseFrame> ReadUntil(SseReader sse, string marker, CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await sse.ReadFrameAsync(cancellationToken) ?? throw new InvalidOperationException("stream ended");
            if (frame.Data.Contains(marker, StringComparison.Ordinal))
            {
                return frame;
            }
        }
    }

    internal static Task Report(HttpClient client, string marker) =>
        client.PostAsync("/api/v2/csp/reports", new StringContent($$$"""{"csp-report":{"m":"{{{marker}}}"}}""", Encoding.UTF8, "application/json"));
}
