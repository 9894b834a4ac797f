using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Sessions.Tests;

public sealed partial class SessionsThroughGatewayTests
{
    /// <summary>The session and agent event WebSockets resumed from the middle, by the ids the SSE stream carries for the same events.</summary>
    [Fact]
    public async Task SessionAndAgentSockets_ResumeAfterAnId_WithOnlyTheLaterEvents()
    {
        var profile = fixture.NewProfile("cat", singleton: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events/stream?types=terminal_created,agent_started");
        using var response = await fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));

        // Two sessions one after the other; the SSE stream gives each one's events their ids.
        var first = await fixture.CreateSessionAsync(profile);
        var firstIds = await IdsOfAsync(sse, first, timeout.Token);
        var second = await fixture.CreateSessionAsync(profile);
        var secondIds = await IdsOfAsync(sse, second, timeout.Token);
        try
        {
            Assert.True(secondIds.Terminal > firstIds.Terminal && secondIds.Agent > firstIds.Agent, $"{firstIds} then {secondIds}");

            // Resumed after the first session's event, each socket replays the second's and never the first's.
            var sessions = await ReadUntilAsync($"/api/sessions/events?after_id={firstIds.Terminal}",
                f => (string?)f["type"] == "terminal_created" && (string?)f["session_id"] == second, timeout.Token);
            Assert.DoesNotContain(sessions, f => (string?)f["type"] == "terminal_created" && (string?)f["session_id"] == first);
            var agents = await ReadUntilAsync($"/api/agents/events?after_id={firstIds.Agent}",
                f => (string?)f["type"] == "agent_started" && (string?)f["context"]?["session_id"] == second, timeout.Token);
            Assert.DoesNotContain(agents, f => (string?)f["type"] == "agent_started" && (string?)f["context"]?["session_id"] == first);

            // Resumed after the second's own events, neither replays anything of these two sessions.
            var later = await fixture.CreateSessionAsync(profile);
            try
            {
                var afterSecond = await ReadUntilAsync($"/api/sessions/events?after_id={secondIds.Terminal}",
                    f => (string?)f["type"] == "terminal_created" && (string?)f["session_id"] == later, timeout.Token);
                Assert.DoesNotContain(afterSecond, f => (string?)f["type"] == "terminal_created" && (string?)f["session_id"] is { } id && (id == first || id == second));
            }
            finally
            {
                await fixture.DeleteSessionAsync(later);
            }
        }
        finally
        {
            await fixture.DeleteSessionAsync(first);
            await fixture.DeleteSessionAsync(second);
        }
    }

    private static async Task<(long Terminal, long Agent)> IdsOfAsync(SseReader sse, string sessionId, CancellationToken cancellationToken)
    {
        long? terminal = null, agent = null;
        while ((terminal is null || agent is null) && await sse.ReadFrameAsync(cancellationToken) is { } frame)
        {
            if (frame.Data.Length == 0)
            {
                continue;
            }
            var data = JsonNode.Parse(frame.Data)!;
            var id = long.Parse(frame.Id!, CultureInfo.InvariantCulture);
            if ((string?)data["type"] == "terminal_created" && (string?)data["session_id"] == sessionId)
            {
                terminal = id;
            }
            else if ((string?)data["type"] == "agent_started" && (string?)data["context"]?["session_id"] == sessionId)
            {
                agent = id;
            }
        }
        return (terminal ?? throw new InvalidOperationException("the SSE stream ended"), agent!.Value);
    }

    /// <summary>Every frame of a WebSocket stream up to and including the first that matches.</summary>
    private async Task<List<JsonNode>> ReadUntilAsync(string path, Func<JsonNode, bool> done, CancellationToken cancellationToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + fixture.System.Token);
        var gateway = fixture.System.GatewayUrl;
        await socket.ConnectAsync(new Uri($"ws://{gateway.Authority}{path}"), cancellationToken);
        var frames = new List<JsonNode>();
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }
            var frame = JsonNode.Parse(Encoding.UTF8.GetString(message.ToArray()))!;
            message.SetLength(0);
            frames.Add(frame);
            if (done(frame))
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                return frames;
            }
        }
    }
}
