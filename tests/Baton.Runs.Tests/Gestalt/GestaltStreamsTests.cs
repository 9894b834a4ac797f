using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>The 000_* WebSocket and SSE streams through the gateway: ids, resume, bad input, slow consumers.</summary>
[Trait("Category", "Redis")]
public sealed class GestaltStreamsTests
{
    private static async Task SaveEmptyFlowsAsync(HttpClient http)
    {
        using var response = await http.PutAsync("/api/flow/config", new StringContent("{\"version\":1,\"triggers\":[]}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WebSockets_ResumeAfterId_EveryStreamValidatesItsInput()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;

        // Each save of the flow configuration is a config event.
        await using var live = new WebSocketFrames(await gestalt.ConnectAsync("/api/config/events"));
        await SaveEmptyFlowsAsync(http);
        await SaveEmptyFlowsAsync(http);
        await SaveEmptyFlowsAsync(http);
        await Eventually.WaitAsync(() => Task.FromResult(live.Frames.Count >= 3), TimeSpan.FromSeconds(20), "three config events");
        var first = JsonNode.Parse(live.Frames[0])!;
        Assert.Equal("config_changed", (string?)first["type"]);
        Assert.Equal("flow", (string?)first["config_type"]);
        Assert.Equal("changed", (string?)first["change_type"]);
        Assert.False(string.IsNullOrEmpty((string?)first["timestamp"]));

        // SSE /api/events/stream carries config events with ids; ?after_id= replays from any of them.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events/stream?types=config_changed&last_event_id=0");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var retry = await sse.ReadFrameAsync(timeout.Token);
        Assert.Equal(5000, retry!.Retry);
        var ids = new List<long>();
        while (ids.Count < 3)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token);
            if (frame!.Data.Length > 0)
            {
                ids.Add(long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        Assert.Equal(ids.Order().Distinct(), ids);

        // A WebSocket resuming after the first id gets the second and third, exactly once, then live ones.
        await using var resumed = new WebSocketFrames(await gestalt.ConnectAsync($"/api/config/events?after_id={ids[0]}"));
        await Eventually.WaitAsync(() => Task.FromResult(resumed.Frames.Count >= 2), TimeSpan.FromSeconds(20), "replayed config events");
        Assert.Equal(live.Frames.Skip(1).Take(2), resumed.Frames.Take(2));
        await SaveEmptyFlowsAsync(http);
        await Eventually.WaitAsync(() => Task.FromResult(resumed.Frames.Count == 3 && live.Frames.Count == 4), TimeSpan.FromSeconds(20), "a live event after the replay");
        Assert.Equal(live.Frames[3], resumed.Frames[2]);

        // The agent and session event WebSockets open and accept after_id (their producers are sessions).
        await using var agents = new WebSocketFrames(await gestalt.ConnectAsync("/api/agents/events?after_id=0"));
        await using var sessions = new WebSocketFrames(await gestalt.ConnectAsync("/api/sessions/events"));
        Assert.DoesNotContain(agents.Frames, f => !f.Contains("\"agent_", StringComparison.Ordinal));

        // Bad input: 4xx in the 000_* envelope, never 5xx.
        foreach (var path in new[] { "/api/config/events?after_id=abc", "/api/agents/events?after_id=-1", "/api/sessions/events?after_id=99999999999999999999999" })
        {
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", "Bearer " + gestalt.System.Token);
            socket.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(gestalt.WebSocketUri(path), CancellationToken.None));
            Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);
        }
        using (var plain = await http.GetAsync("/api/config/events"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
            Assert.Equal("invalid_request", (string?)JsonNode.Parse(await plain.Content.ReadAsStringAsync())!["code"]);
        }
        using (var badResume = new HttpRequestMessage(HttpMethod.Get, "/api/notifications/stream"))
        {
            badResume.Headers.Add("Last-Event-ID", "yesterday");
            using var answer = await http.SendAsync(badResume);
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        }
        using (var anonymous = gestalt.System.CreateClient(authenticated: false))
        using (var denied = await anonymous.GetAsync("/api/events/stream"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        }
        using (var withQueryToken = await gestalt.System.CreateClient(authenticated: false)
            .GetAsync($"/api/notifications/stream?token={gestalt.System.Token}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, withQueryToken.StatusCode);
        }
    }

    [Fact]
    public async Task SlowSseConsumer_IsCutOffWithItsResumeId_WhileOthersGetEverything_AndResumesWithoutAGap()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        // Every file change toasts a ~48 KB notification, so a few dozen overflow the gateway's 1 MiB per client and any socket buffers.
        var padding = new string('x', 48 * 1024);
        var import = new StringContent($$$"""
            flows:
              - id: big-toasts
                event_type: file-change
                bindings:
                  - activity_id: toast_notification
                    config: {level: info, message_template: "{{path}} {{{padding}}}"}
            """, Encoding.UTF8);
        import.Headers.ContentType = MediaTypeHeaderValue.Parse("application/yaml");
        (await http.PostAsync("/api/flow/config/import", import)).EnsureSuccessStatusCode();

        // A fast consumer that reads everything as it comes; should it ever fall behind, it resumes by id as clients do.
        var fastIds = new System.Collections.Concurrent.ConcurrentQueue<long>();
        using var stopFast = new CancellationTokenSource();
        var fast = Task.Run(async () =>
        {
            long? last = null;
            while (!stopFast.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "/api/notifications/stream");
                    if (last is { } resume)
                    {
                        request.Headers.Add("Last-Event-ID", resume.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    }
                    using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stopFast.Token);
                    using var reader = new SseReader(await stream.Content.ReadAsStreamAsync(stopFast.Token));
                    while (await reader.ReadFrameAsync(stopFast.Token) is { } frame)
                    {
                        if (frame.Id is not null && frame.Event is null)
                        {
                            last = long.Parse(frame.Id, System.Globalization.CultureInfo.InvariantCulture);
                            fastIds.Enqueue(last.Value);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        // The watcher starts once the flow exists: touch files until the first toast arrives.
        var files = 0;
        await Eventually.WaitAsync(async () =>
        {
            await File.WriteAllTextAsync(Path.Combine(gestalt.WorkDir, $"warm-{files++}.txt"), "x");
            return await Task.Delay(500).ContinueWith(_ => !fastIds.IsEmpty);
        }, TimeSpan.FromSeconds(60), "the first toast");
        await Eventually.WaitAsync(async () =>
        {
            var before = fastIds.Count;
            return await Task.Delay(1000).ContinueWith(_ => fastIds.Count == before);
        }, TimeSpan.FromSeconds(30), "the warm-up toasts settled");
        var firstId = fastIds.Max();

        // A client with a tiny receive window that stops reading after the headers; it resumes after the warm-up.
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
        await slow.ConnectAsync(gestalt.System.GatewayUrl.Host, gestalt.System.GatewayUrl.Port);
        // HTTP/1.0: no chunked framing, and the server closes the connection when the stream ends.
        var get = $"GET /api/notifications/stream HTTP/1.0\r\nHost: {gestalt.System.GatewayUrl.Authority}\r\nAuthorization: Bearer {gestalt.System.Token}\r\nLast-Event-ID: {firstId}\r\n\r\n";
        await slow.SendAsync(Encoding.ASCII.GetBytes(get));
        var head = new byte[1];
        await slow.ReceiveAsync(head);
        var slowClient = $"(127.0.0.1:{((IPEndPoint)slow.LocalEndPoint!).Port})";

        // Produce until the gateway reports the slow consumer cut off; the fast one keeps up meanwhile.
        await Eventually.WaitAsync(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(gestalt.WorkDir, $"file-{files++}.txt"), "x");
            }
            await Task.Delay(200);
            return gestalt.System.Output.Contains($"Cut off a slow consumer of /api/notifications/stream {slowClient}", StringComparison.Ordinal);
        }, TimeSpan.FromMinutes(3), "the slow consumer cut off");
        var produced = files;
        await Eventually.WaitAsync(async () =>
        {
            var before = fastIds.Count;
            return await Task.Delay(1500).ContinueWith(_ => fastIds.Count == before);
        }, TimeSpan.FromSeconds(60), "the fast consumer settled");
        await stopFast.CancelAsync();
        await fast;
        var everything = fastIds.Where(id => id > firstId).ToList();
        Assert.Equal(everything.Distinct().Order(), everything);
        Assert.True(everything.Count > 16, $"only {everything.Count} toasts for {produced} files");

        // The slow one was sent complete frames, then (if it was still reading) an error event carrying its resume id;
        // a client that reads nothing at all is disconnected after a grace period. Either way it resumes from its last id.
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        using (var drain = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try
            {
                int read;
                while ((read = await slow.ReceiveAsync(buffer, SocketFlags.None, drain.Token)) > 0)
                {
                    received.Write(buffer, 0, read);
                }
            }
            catch (SocketException)
            {
            }
        }
        var text = Encoding.UTF8.GetString(received.ToArray());
        text = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var frames = text.Split("\n\n");
        var complete = frames.Take(frames.Length - 1).Select(f => f.Split('\n')).ToList();
        var delivered = complete.Where(lines => !lines.Contains("event: error") && lines.Any(l => l.StartsWith("id: ", StringComparison.Ordinal)))
            .Select(lines => long.Parse(lines.First(l => l.StartsWith("id: ", StringComparison.Ordinal))[4..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(delivered.Count < everything.Count, $"the slow consumer got {delivered.Count} of {everything.Count}");
        Assert.Equal(everything.Take(delivered.Count), delivered);
        var resumeId = delivered.Count == 0 ? firstId : delivered[^1];
        if (complete.FirstOrDefault(lines => lines.Contains("event: error")) is { } errorFrame)
        {
            var errorJson = JsonNode.Parse(errorFrame.First(l => l.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..])!;
            Assert.Contains("slow consumer", (string?)errorJson["message"]);
            Assert.Equal(delivered.Count == 0 ? null : resumeId.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)errorJson["last_event_id"]);
        }

        // Resuming from that id delivers the rest: together exactly what the fast consumer saw.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/notifications/stream");
        request.Headers.Add("Last-Event-ID", resumeId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var rest = new List<long>();
        while (delivered.Count + rest.Count < everything.Count)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token);
            if (frame!.Id is not null)
            {
                rest.Add(long.Parse(frame.Id, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        Assert.Equal(everything, delivered.Concat(rest));
    }
}
