using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Baton.Gateway.Streaming;
using Microsoft.Extensions.Logging;

namespace Baton.Gateway.Logs;

/// <summary><c>GET /api/logs/stream</c> (SSE) and <c>GET /ws/logs</c> (WebSocket): the retained tail, then live records.</summary>
public static class LogStreamEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IEndpointRouteBuilder MapLogStreams(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/logs/stream", StreamSseAsync);
        app.Map("/ws/logs", StreamWebSocketAsync);
        return app;
    }

    private static async Task StreamSseAsync(HttpContext context, LogHub hub, StreamingOptions streaming, TimeProvider time)
    {
        var (afterId, level) = ReadRequest(context);
        var (replay, live) = hub.Subscribe(afterId, time.GetUtcNow() - TimeSpan.FromHours(1));
        using (live)
        {
            var sse = await SseWriter.StartAsync(context);
            foreach (var entry in replay.Where(e => Passes(e, level)))
            {
                await sse.WriteEventAsync(entry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Serialize(entry, replay: true));
            }
            try
            {
                await KeepAlive.PumpAsync(live.Reader,
                    entry => Passes(entry, level) ? sse.WriteEventAsync(entry.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Serialize(entry, replay: false)) : Task.CompletedTask,
                    () => sse.WriteCommentAsync("ping"), streaming.KeepAliveInterval, context.RequestAborted);
            }
            catch (SlowConsumerException ex)
            {
                await sse.WriteEventAsync(null, JsonSerializer.Serialize(new { type = "error", message = ex.Message, status = 503 }), "error");
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
            }
        }
    }

    private static async Task StreamWebSocketAsync(HttpContext context, LogHub hub, StreamingOptions streaming, TimeProvider time)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Errors.ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        var (afterId, level) = ReadRequest(context);
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        var (replay, live) = hub.Subscribe(afterId, time.GetUtcNow() - TimeSpan.FromHours(1));
        using (live)
        {
            using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            // Reading is how a WebSocket server learns the client went away or asked to close.
            var reading = DrainUntilClosedAsync(socket, closed);
            var (status, reason) = (WebSocketCloseStatus.NormalClosure, "log stream ended");
            try
            {
                // Sends take no token: cancelling a pending WebSocket send aborts the socket, losing the close handshake.
                foreach (var entry in replay.Where(e => Passes(e, level)))
                {
                    await SendAsync(socket, Serialize(entry, replay: true), CancellationToken.None);
                }
                await KeepAlive.PumpAsync(live.Reader,
                    entry => Passes(entry, level) ? SendAsync(socket, Serialize(entry, replay: false), CancellationToken.None) : Task.CompletedTask,
                    () => Task.CompletedTask, streaming.KeepAliveInterval, closed.Token);
            }
            catch (SlowConsumerException)
            {
                (status, reason) = ((WebSocketCloseStatus)1013, "slow consumer: reconnect with after_id to resume");
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
            }
            await socket.CloseQuietlyAsync(status, reason);
            // The client answers our close frame, which ends the reading loop; a client that never does is dropped.
            if (await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(2))) != reading)
            {
                socket.Abort();
                await reading;
            }
        }
    }

    private static async Task DrainUntilClosedAsync(WebSocket socket, CancellationTokenSource closed)
    {
        var buffer = new byte[1024];
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
        await closed.CancelAsync();
    }

    private static Task SendAsync(WebSocket socket, string json, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, cancellationToken);

    private static (long? AfterId, LogLevel Level) ReadRequest(HttpContext context)
    {
        var raw = context.Request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrEmpty(raw))
        {
            raw = context.Request.Query["after_id"].ToString();
        }
        if (string.IsNullOrEmpty(raw))
        {
            raw = context.Request.Query["last_event_id"].ToString();
        }
        long? afterId = long.TryParse(raw, out var parsed) ? parsed : null;
        var level = Enum.TryParse<LogLevel>(context.Request.Query["level"].ToString(), ignoreCase: true, out var l) ? l : LogLevel.Trace;
        if (context.Request.Query["level"].ToString().Equals("warn", StringComparison.OrdinalIgnoreCase))
        {
            level = LogLevel.Warning;
        }
        return (afterId, level);
    }

    private static bool Passes(LogEntry entry, LogLevel minimum) =>
        !Enum.TryParse<LogLevel>(entry.Message.Level, out var level) || level >= minimum;

    private static string Serialize(LogEntry entry, bool replay) => JsonSerializer.Serialize(new
    {
        id = entry.Id,
        timestamp = entry.Message.Timestamp,
        service = entry.Message.Service,
        level = entry.Message.Level,
        category = entry.Message.Category,
        message = entry.Message.Message,
        exception = entry.Message.Exception,
        attributes = entry.Message.Attributes,
        replay,
    }, Json);
}

/// <summary>Timing of long-lived streams; the keep-alive is configurable so tests can observe it.</summary>
public sealed record StreamingOptions(TimeSpan KeepAliveInterval)
{
    public static StreamingOptions FromConfiguration(IConfiguration configuration) =>
        new(TimeSpan.FromSeconds(double.TryParse(configuration["BATON_KEEPALIVE_SECONDS"], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 15));
}
