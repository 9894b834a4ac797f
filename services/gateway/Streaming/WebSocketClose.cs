using System.Net.WebSockets;

namespace Baton.Gateway.Streaming;

public static class WebSocketClose
{
    /// <summary>
    /// Sends our close frame if the socket can still take one, within 2 s, never throwing: the
    /// client may already be gone. The reason is cut to what a close frame can carry (123 bytes).
    /// </summary>
    public static async Task CloseQuietlyAsync(this WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await socket.CloseOutputAsync(status, reason.Length > 120 ? reason[..120] : reason, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
    }
}
