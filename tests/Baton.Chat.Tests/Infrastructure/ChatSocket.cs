using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Chat.Tests.Infrastructure;

/// <summary>A client of <c>WS /ws/{chat_id}</c> through the gateway that records every frame it receives.</summary>
public sealed class ChatSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly List<JsonObject> _events = [];
    private readonly ConditionalWeakTable<JsonObject, StrongBox<long>> _arrivals = new();
    private readonly Task _reading;

    private ChatSocket(ClientWebSocket socket)
    {
        _socket = socket;
        _reading = Task.Run(ReadAsync);
    }

    public IReadOnlyList<JsonObject> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>When the frame arrived, in <see cref="System.Diagnostics.Stopwatch"/> ticks (for latency measurements).</summary>
    public long ReceivedAt(JsonObject frame) => _arrivals.TryGetValue(frame, out var at) ? at.Value : 0;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseDescription => _socket.CloseStatusDescription;
    public Task Closed => _reading;

    public static async Task<ChatSocket> ConnectAsync(BatonSystem system, string chatId, long? afterId = null, string? token = null)
    {
        var socket = new ClientWebSocket();
        var query = $"token={Uri.EscapeDataString(token ?? system.Token)}" + (afterId is { } after ? $"&after_id={after}" : "");
        var uri = new UriBuilder(system.GatewayUrl) { Scheme = "ws", Path = $"/ws/{chatId}", Query = query }.Uri;
        await socket.ConnectAsync(uri, CancellationToken.None);
        return new ChatSocket(socket);
    }

    public Task SendAsync(object message) => SendRawAsync(JsonSerializer.Serialize(message));

    public Task SendRawAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SayAsync(string content, bool stream = true) => SendAsync(new { type = "user_message", content, stream });

    /// <summary>The first event (from index <paramref name="from"/>) that matches, waiting for it.</summary>
    public async Task<JsonObject> WaitForAsync(Func<JsonObject, bool> match, int from = 0, TimeSpan? timeout = null, string? what = null)
    {
        try
        {
            var found = await Eventually.WaitAsync(() => Task.FromResult(Events.Skip(from).FirstOrDefault(match)), e => e is not null,
                timeout ?? TimeSpan.FromSeconds(60), what ?? "a matching chat event");
            return found!;
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; received: {string.Join(", ", Events.Select(e => (string?)e["type"]))}", ex);
        }
    }

    public Task<JsonObject> WaitForTypeAsync(string type, int from = 0, TimeSpan? timeout = null) =>
        WaitForAsync(e => (string?)e["type"] == type, from, timeout, type);

    /// <summary>Waits for the socket to be closed by the server.</summary>
    public async Task WaitClosedAsync(TimeSpan? timeout = null) => await _reading.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Drops the connection without a close handshake, like a network failure.</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        _socket.Abort();
        await _reading.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }
                var frame = (JsonObject)JsonNode.Parse(message.ToArray())!;
                _arrivals.Add(frame, new StrongBox<long>(System.Diagnostics.Stopwatch.GetTimestamp()));
                message.SetLength(0);
                lock (_events)
                {
                    _events.Add(frame);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
