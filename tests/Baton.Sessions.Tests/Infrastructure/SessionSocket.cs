using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Baton.Sessions.Tests.Infrastructure;

/// <summary>A client of WS /ws/session/{id}: collects every binary frame in order, remembers X-Session-Offset.</summary>
public sealed class SessionSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly MemoryStream _received = new();
    private readonly Task _reading;

    private SessionSocket(ClientWebSocket socket)
    {
        _socket = socket;
        Offset = long.Parse(socket.HttpResponseHeaders?["X-Session-Offset"].First() ?? "-1", CultureInfo.InvariantCulture);
        _reading = ReadAsync();
    }

    /// <summary>The log offset of the first byte received.</summary>
    public long Offset { get; }

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseDescription => _socket.CloseStatusDescription;

    public byte[] Bytes
    {
        get
        {
            lock (_received)
            {
                return _received.ToArray();
            }
        }
    }

    public string Text => Encoding.UTF8.GetString(Bytes);

    public static async Task<SessionSocket> ConnectAsync(Uri gateway, string token, string sessionId, long? cursor = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (token.Length > 0)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }
        var query = cursor is null ? "" : "?cursor=" + cursor.Value.ToString(CultureInfo.InvariantCulture);
        var uri = new Uri($"ws://{gateway.Authority}/ws/session/{Uri.EscapeDataString(sessionId)}{query}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(uri, timeout.Token);
        return new SessionSocket(socket);
    }

    public Task SendAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Binary, true, CancellationToken.None);

    public Task SendTextAsync(string text) => _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task WaitForAsync(string text, TimeSpan? timeout = null) =>
        Baton.Testing.Eventually.WaitAsync(() => Task.FromResult(Text.Contains(text, StringComparison.Ordinal)), timeout ?? TimeSpan.FromSeconds(30), $"'{text}' on the session socket; got: {Tail(Text)}");

    public Task WaitClosedAsync(TimeSpan? timeout = null) => _reading.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        await _reading.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _socket.Dispose();
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                lock (_received)
                {
                    _received.Write(buffer, 0, result.Count);
                }
            }
        }
        catch (WebSocketException)
        {
        }
    }

    private static string Tail(string text) => text.Length > 400 ? "…" + text[^400..] : text;
}
