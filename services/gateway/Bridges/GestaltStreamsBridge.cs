using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Baton.Contracts.Runs.V1;
using Baton.ServiceDefaults.Events;
using Baton.Gateway.Errors;
using Baton.Gateway.Logs;
using Baton.Gateway.Streaming;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// The 000_* live streams (NOTES §1.6), bridged onto the runs service's <c>StreamGestaltEvents</c>:
/// SSE <c>/api/events/stream?types=</c> and <c>/api/notifications/stream</c>; WebSocket
/// <c>/api/agents/events</c>, <c>/api/sessions/events</c>, <c>/api/config/events</c> (JSON text
/// frames). Beyond Gestalt, every SSE frame carries <c>id:</c> and resumes from
/// <c>Last-Event-ID</c> (or <c>?last_event_id=</c> / <c>?after_id=</c>), and WebSockets resume from
/// <c>?after_id=</c>. Each consumer has a buffer bounded in events and bytes (<see cref="SseRelay{T}"/>'s
/// limits); one that falls behind is cut off (SSE
/// <c>event: error</c> carrying its resume id, WebSocket close 1013) and never slows anyone else.
/// </summary>
public static class GestaltStreamsBridge
{
    private static readonly TimeSpan StalledGrace = TimeSpan.FromSeconds(10);
    /// <summary>How long a full buffer waits for its consumer to make room before cutting it off.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private static ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private static readonly string[] EventStreams = ["watcher", "config", "agent", "terminal"];

    public static IEndpointRouteBuilder MapGestaltStreamsBridge(this IEndpointRouteBuilder app)
    {
        _logger = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GestaltStreamsBridge));
        app.MapGet("/api/events/stream", (HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming) =>
            SseAsync(context, client, streaming, EventStreams, SplitTypes(context.Request.Query["types"])));
        app.MapGet("/api/notifications/stream", (HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming) =>
            SseAsync(context, client, streaming, ["notification"], []));
        app.Map("/api/agents/events", (HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming) =>
            WebSocketAsync(context, client, streaming, "agent"));
        app.Map("/api/sessions/events", (HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming) =>
            WebSocketAsync(context, client, streaming, "terminal"));
        app.Map("/api/config/events", (HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming) =>
            WebSocketAsync(context, client, streaming, "config"));
        return app;
    }

    private static async Task SseAsync(HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming, string[] streams, string[] types)
    {
        if (!TryReadAfterId(context, includeHeader: true, out var afterId))
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "Last-Event-ID must be a non-negative integer");
            return;
        }
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var open = await OpenAsync(client, streams, types, afterId, aborted.Token);
        if (open.Error is { } error && error.StatusCode != StatusCode.Unavailable)
        {
            await ErrorResponses.WriteAsync(context, HttpStatusFor(error.StatusCode), error.Status.Detail);
            return;
        }
        var sse = await SseWriter.StartAsync(context);
        if (open.Call is null)
        {
            // As Gestalt does: the stream opens, then says what is wrong.
            await sse.WriteEventAsync(null, ErrorJson("the runs service is unavailable", 503, afterId), "error");
            return;
        }
        using var call = open.Call;
        var lastId = afterId;
        var consumer = Pump(call, aborted.Token);
        var watchdog = Watchdog(consumer.CutOff, context, context.Abort, aborted.Token);
        try
        {
            await KeepAlive.PumpAsync(consumer.Reader, async evt =>
            {
                await sse.WriteEventAsync(evt.Id.ToString(CultureInfo.InvariantCulture), evt.PayloadJson);
                lastId = evt.Id;
            }, () => sse.WriteCommentAsync("ping"), streaming.KeepAliveInterval, context.RequestAborted);
        }
        catch (SlowConsumerCutOff)
        {
            await WriteQuietlyAsync(() => sse.WriteEventAsync(lastId?.ToString(CultureInfo.InvariantCulture), ErrorJson(
                "slow consumer: this client fell too far behind and was cut off; reconnect with Last-Event-ID to resume", 503, lastId), "error"));
        }
        catch (RpcException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            await WriteQuietlyAsync(() => sse.WriteEventAsync(lastId?.ToString(CultureInfo.InvariantCulture), ErrorJson(ex.Status.Detail, HttpStatusFor(ex.StatusCode), lastId), "error"));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            await aborted.CancelAsync();
            await Task.WhenAll(consumer.Reading, watchdog).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task WebSocketAsync(HttpContext context, GestaltStreams.GestaltStreamsClient client, StreamingOptions streaming, string stream)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        if (!TryReadAfterId(context, includeHeader: false, out var afterId))
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "after_id must be a non-negative integer");
            return;
        }
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var open = await OpenAsync(client, [stream], [], afterId, closed.Token);
        if (open.Error is { } error && error.StatusCode != StatusCode.Unavailable)
        {
            await ErrorResponses.WriteAsync(context, HttpStatusFor(error.StatusCode), error.Status.Detail);
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        var reading = DrainUntilClosedAsync(socket, closed);
        var (status, reason) = (WebSocketCloseStatus.NormalClosure, "event stream ended");
        if (open.Call is null)
        {
            await SendQuietlyAsync(socket, ErrorJson("the runs service is unavailable", 503, afterId));
            (status, reason) = (WebSocketCloseStatus.InternalServerError, "runs service unavailable");
        }
        else
        {
            using var call = open.Call;
            var lastId = afterId;
            var consumer = Pump(call, closed.Token);
            var watchdog = Watchdog(consumer.CutOff, context, socket.Abort, closed.Token);
            try
            {
                // Sends take no token: cancelling a pending WebSocket send aborts the socket, losing the close handshake.
                await KeepAlive.PumpAsync(consumer.Reader, async evt =>
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes(evt.PayloadJson), WebSocketMessageType.Text, true, CancellationToken.None);
                    lastId = evt.Id;
                }, () => Task.CompletedTask, streaming.KeepAliveInterval, closed.Token);
            }
            catch (SlowConsumerCutOff)
            {
                (status, reason) = ((WebSocketCloseStatus)1013, $"slow consumer: reconnect with after_id={lastId?.ToString(CultureInfo.InvariantCulture) ?? "0"}");
            }
            catch (RpcException ex) when (!closed.IsCancellationRequested)
            {
                await SendQuietlyAsync(socket, ErrorJson(ex.Status.Detail, HttpStatusFor(ex.StatusCode), lastId));
                (status, reason) = (WebSocketCloseStatus.InternalServerError, "event stream failed");
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
            }
            await closed.CancelAsync();
            await Task.WhenAll(consumer.Reading, watchdog).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        await socket.CloseQuietlyAsync(status, reason);
        if (await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(2))) != reading)
        {
            socket.Abort();
            await reading;
        }
    }

    private static async Task<(AsyncServerStreamingCall<GestaltEvent>? Call, RpcException? Error)> OpenAsync(
        GestaltStreams.GestaltStreamsClient client, string[] streams, string[] types, long? afterId, CancellationToken cancellationToken)
    {
        var request = new StreamGestaltEventsRequest { Streams = { streams }, Types_ = { types } };
        if (afterId is { } after)
        {
            request.AfterId = after;
        }
        var call = client.StreamGestaltEvents(request, cancellationToken: cancellationToken);
        try
        {
            var headers = await call.ResponseHeadersAsync;
            if (headers.GetValue("baton-stream") is null)
            {
                // A trailers-only answer: the call failed before streaming; this throws its status.
                await call.ResponseStream.MoveNext(cancellationToken);
                call.Dispose();
                return (null, new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "the runs service did not open the event stream")));
            }
            return (call, null);
        }
        catch (RpcException ex)
        {
            call.Dispose();
            return (null, ex);
        }
    }

    /// <summary>
    /// Reads the gRPC stream into a buffer bounded in events and bytes (<see cref="SseRelay{T}"/>'s
    /// limits). A full buffer waits a little for its consumer (a client catching up on a replay of
    /// large events reads fast, just not as fast as the replay arrives), then cuts it off and ends the
    /// upstream call. The producers upstream never wait: the runs service reads its durable log.
    /// </summary>
    private static (ChannelReader<GestaltEvent> Reader, Task Reading, Task CutOff) Pump(AsyncServerStreamingCall<GestaltEvent> call, CancellationToken cancellationToken)
    {
        var buffer = new BoundedBuffer<GestaltEvent>(SseRelay<GestaltEvent>.MaxItems, SseRelay<GestaltEvent>.MaxBytes, e => e.CalculateSize());
        var cutOff = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var evt in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    if (!await WriteWithPatienceAsync(buffer, evt, cancellationToken))
                    {
                        buffer.TryComplete(new SlowConsumerCutOff());
                        cutOff.TrySetResult();
                        return;
                    }
                }
                buffer.TryComplete();
            }
            catch (Exception ex)
            {
                buffer.TryComplete(ex);
            }
        }, CancellationToken.None);
        return (buffer.Reader, reading, cutOff.Task);
    }

    private static async Task<bool> WriteWithPatienceAsync(BoundedBuffer<GestaltEvent> buffer, GestaltEvent evt, CancellationToken cancellationToken)
    {
        if (buffer.TryWrite(evt))
        {
            return true;
        }
        // BoundedBuffer never blocks a writer and has no "room again" signal, so wait by polling, briefly.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(5);
        while (waited.Elapsed < Patience)
        {
            await Task.Delay(delay, cancellationToken);
            if (buffer.TryWrite(evt))
            {
                return true;
            }
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
        }
        return false;
    }

    /// <summary>
    /// Logs the cut-off when it is decided (a client that reads nothing never gets to the catch that
    /// would: its writer is blocked in a flush) and drops such a client after a grace period.
    /// </summary>
    private static Task Watchdog(Task cutOff, HttpContext context, Action abort, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        await cutOff.WaitAsync(cancellationToken);
        _logger.LogInformation("Cut off a slow consumer of {Path} ({Client})", context.Request.Path.Value, Client(context));
        await Task.Delay(StalledGrace, cancellationToken);
        abort();
    }, CancellationToken.None);

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

    private static async Task SendQuietlyAsync(WebSocket socket, string json)
    {
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>A last frame to a client that may be gone or stalled (the watchdog then aborts the write).</summary>
    private static async Task WriteQuietlyAsync(Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    private static string Client(HttpContext context) => $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";

    private static string ErrorJson(string message, int status, long? lastId) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["type"] = "error",
        ["message"] = message,
        ["status"] = status,
        ["last_event_id"] = lastId ?? 0,
    });

    private static string[] SplitTypes(Microsoft.Extensions.Primitives.StringValues values) =>
        values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToArray();

    private static bool TryReadAfterId(HttpContext context, bool includeHeader, out long? afterId)
    {
        afterId = null;
        var raw = includeHeader ? context.Request.Headers["Last-Event-ID"].ToString() : "";
        foreach (var name in new[] { "after_id", "last_event_id" })
        {
            if (string.IsNullOrWhiteSpace(raw))
            {
                raw = context.Request.Query[name].ToString();
            }
        }
        if (string.IsNullOrWhiteSpace(raw))
        {
            return true;
        }
        if (long.TryParse(raw.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            afterId = value;
            return true;
        }
        return false;
    }

    private static int HttpStatusFor(StatusCode code) => code switch
    {
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status503ServiceUnavailable,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status502BadGateway,
    };

    private sealed class SlowConsumerCutOff() : Exception("slow consumer");
}
