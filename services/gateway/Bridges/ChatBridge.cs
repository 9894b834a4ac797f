using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Baton.Contracts.Chat.V1;
using Baton.Gateway.Errors;
using Baton.Gateway.Logs;
using Baton.Gateway.Streaming;
using Baton.ServiceDefaults.Events;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// <c>WS /ws/{chat_id}?after_id=</c> (001_*): a bridge onto the chat service's bidirectional
/// <c>Converse</c> stream. Client text frames go to the service as they are; the service's frames
/// (<c>{"type":"agent.…","data","timestamp","id"}</c>) come back as text frames. Unknown chat → close
/// 4004; a client that falls behind is closed with 1013 and the id to resume from.
/// </summary>
public static class ChatBridge
{
    public const WebSocketCloseStatus ChatNotFound = (WebSocketCloseStatus)4004;
    public const WebSocketCloseStatus Unauthorized = (WebSocketCloseStatus)4001;
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;
    private const string StreamOpenHeader = "baton-stream";
    // What one client may fall behind by before it is cut off (it resumes with after_id).
    private const int BufferFrames = 4096;
    private const long BufferBytes = 4 * 1024 * 1024;
    private const int MaxMessage = 1024 * 1024;

    public static IEndpointRouteBuilder MapChatBridge(this IEndpointRouteBuilder app)
    {
        // Literal routes (/ws/logs, /ws/events) outrank this parameter by route precedence.
        app.Map("/ws/{chat_id}", BridgeAsync);
        return app;
    }

    /// <summary>Whether the request is a WebSocket upgrade to this bridge (the auth middleware answers those with a close frame).</summary>
    public static bool IsChatSocket(HttpContext context) =>
        context.WebSockets.IsWebSocketRequest && RouteFamilies.Classify(context.Request.Path) == RouteFamily.Chat
        && context.Request.Path.StartsWithSegments("/ws");

    /// <summary>Accepts the upgrade only to close it with <paramref name="status"/>: how 001_* clients learn why (4001, 4004).</summary>
    public static async Task AcceptAndCloseAsync(HttpContext context, WebSocketCloseStatus status, string reason)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        await socket.CloseQuietlyAsync(status, reason);
        await DrainCloseAsync(socket);
    }

    private static async Task BridgeAsync(HttpContext context, string chat_id, ChatService.ChatServiceClient chat, StreamingOptions streaming, ILoggerFactory loggers)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        var rawAfter = context.Request.Query["after_id"].ToString();
        long afterId = 0;
        if (rawAfter.Length > 0 && !long.TryParse(rawAfter, NumberStyles.None, CultureInfo.InvariantCulture, out afterId))
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "after_id must be a non-negative integer");
            return;
        }
        var logger = loggers.CreateLogger(typeof(ChatBridge));
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        using var call = chat.Converse(cancellationToken: closed.Token);
        try
        {
            await call.RequestStream.WriteAsync(new ClientFrame { Open = new ConverseOpen { ChatId = chat_id, AfterId = afterId } }, closed.Token);
            var headers = await call.ResponseHeadersAsync;
            if (headers.GetValue(StreamOpenHeader) is null)
            {
                // A trailers-only answer (unknown chat …): this throws its status.
                await call.ResponseStream.MoveNext(closed.Token);
                await socket.CloseQuietlyAsync(WebSocketCloseStatus.InternalServerError, "the chat service did not open the conversation");
                return;
            }
        }
        catch (RpcException ex)
        {
            await socket.CloseQuietlyAsync(ex.StatusCode switch
            {
                StatusCode.NotFound => ChatNotFound,
                StatusCode.InvalidArgument => WebSocketCloseStatus.PolicyViolation,
                StatusCode.Unavailable => TryAgainLater,
                _ => WebSocketCloseStatus.InternalServerError,
            }, ex.StatusCode == StatusCode.NotFound ? "Chat not found" : ex.Status.Detail);
            await DrainCloseAsync(socket);
            return;
        }

        var frames = new BoundedBuffer<ServerFrame>(BufferFrames, BufferBytes, f => f.Json.Length * 2L);
        var cutOff = 0;
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var frame in call.ResponseStream.ReadAllAsync(closed.Token))
                {
                    if (!frames.TryWrite(frame))
                    {
                        // The client cannot keep up: never hold the service back; it resumes by id.
                        Interlocked.Exchange(ref cutOff, 1);
                        break;
                    }
                }
                frames.TryComplete();
            }
            catch (Exception ex)
            {
                frames.TryComplete(ex);
            }
        });
        var input = PumpInputAsync(socket, call.RequestStream, closed);
        var (status, reason) = (WebSocketCloseStatus.NormalClosure, "conversation closed");
        long lastId = afterId;
        try
        {
            await foreach (var frame in frames.Reader.ReadAllAsync(closed.Token))
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(frame.Json), WebSocketMessageType.Text, true, closed.Token);
                if (frame.Id > 0)
                {
                    lastId = frame.Id;
                }
            }
            if (Volatile.Read(ref cutOff) == 1)
            {
                (status, reason) = (TryAgainLater, $"slow consumer: reconnect with after_id={lastId}");
            }
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            logger.LogWarning("Chat conversation stream failed: {Status}", ex.Status);
            (status, reason) = (ex.StatusCode == StatusCode.Unavailable ? TryAgainLater : WebSocketCloseStatus.InternalServerError, $"chat service: {ex.Status.Detail}; reconnect with after_id={lastId}");
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException or ChannelClosedException)
        {
        }
        await socket.CloseQuietlyAsync(status, reason);
        // Let the client answer the close handshake (the input pump ends on its close frame).
        await Task.WhenAny(input, Task.Delay(TimeSpan.FromSeconds(2)));
        await closed.CancelAsync();
        await input;
        try
        {
            await reading;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task PumpInputAsync(WebSocket socket, IClientStreamWriter<ClientFrame> requests, CancellationTokenSource closed)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var result = await socket.ReceiveAsync(buffer, closed.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, result.Count);
                if (message.Length > MaxMessage)
                {
                    await socket.CloseQuietlyAsync(WebSocketCloseStatus.MessageTooBig, $"a message may be at most {MaxMessage} bytes");
                    break;
                }
                if (!result.EndOfMessage)
                {
                    continue;
                }
                var text = DecodeStrict(message.ToArray());
                message.SetLength(0);
                // Invalid UTF-8 becomes a string the service rejects as invalid JSON, never a crash here.
                await requests.WriteAsync(new ClientFrame { Message = text ?? "\u0000invalid utf-8" }, closed.Token);
            }
            await requests.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException or InvalidOperationException)
        {
        }
        await closed.CancelAsync();
    }

    private static string? DecodeStrict(byte[] bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static async Task DrainCloseAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var buffer = new byte[1024];
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
    }
}
