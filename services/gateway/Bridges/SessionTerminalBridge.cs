using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Baton.Contracts.Runs.V1;
using Baton.Gateway.Errors;
using Baton.Gateway.Logs;
using Baton.Gateway.Streaming;
using Google.Protobuf;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// WS <c>GET /ws/session/{id}[?cursor=&lt;byte offset&gt;&amp;cols=&amp;rows=]</c> (000_*) bridged onto the runs service's
/// <c>SessionTerminal</c> stream: binary frames of raw terminal bytes out; binary or text frames in are input,
/// except a text <c>{"type":"resize","cols","rows"}</c>. With <c>cursor</c> the session log is replayed from that
/// offset, then live output follows with no gap. The upgrade response carries <c>X-Session-Offset</c>, the log
/// offset of the first byte sent, so a client can resume with <c>cursor</c> = offset + bytes received. A viewer
/// that falls behind is closed with 1013 (it can resume by cursor); the session never waits for it.
/// </summary>
public static class SessionTerminalBridge
{
    public const string OffsetHeader = "X-Session-Offset";
    private const int OverflowExitCode = -2;

    public static IEndpointRouteBuilder MapSessionTerminalBridge(this IEndpointRouteBuilder app)
    {
        app.Map("/ws/session/{id}", ServeAsync);
        return app;
    }

    private static async Task ServeAsync(HttpContext context, string id, SessionsService.SessionsServiceClient sessions, StreamingOptions streaming)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        if (id.Length is 0 or > 256 || id.Any(char.IsControl))
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid session id");
            return;
        }
        var query = context.Request.Query;
        var open = new SessionTerminalOpen
        {
            Id = id,
            Cols = int.TryParse(query["cols"], NumberStyles.None, CultureInfo.InvariantCulture, out var cols) ? cols : 0,
            Rows = int.TryParse(query["rows"], NumberStyles.None, CultureInfo.InvariantCulture, out var rows) ? rows : 0,
        };
        if (query.ContainsKey("cursor"))
        {
            if (!long.TryParse(query["cursor"], NumberStyles.None, CultureInfo.InvariantCulture, out var cursor))
            {
                await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid cursor");
                return;
            }
            open.Cursor = cursor;
        }

        using var call = sessions.SessionTerminal(cancellationToken: context.RequestAborted);
        long offset;
        try
        {
            await call.RequestStream.WriteAsync(new SessionTerminalInput { Open = open }, context.RequestAborted);
            var headers = await call.ResponseHeadersAsync;
            // A trailers-only answer (unknown session …) throws its status from MoveNext.
            if (headers.GetValue(RunEventsBridge.StreamOpenHeader) is null | !await call.ResponseStream.MoveNext(context.RequestAborted)
                || call.ResponseStream.Current.KindCase != SessionTerminalOutput.KindOneofCase.Start)
            {
                await ErrorResponses.WriteAsync(context, StatusCodes.Status502BadGateway, "the runs service did not open the session terminal");
                return;
            }
            offset = call.ResponseStream.Current.Start.Offset;
        }
        catch (RpcException ex)
        {
            var status = ex.StatusCode switch
            {
                StatusCode.NotFound => 404,
                StatusCode.InvalidArgument => 400,
                StatusCode.Unavailable => 503,
                _ => 502,
            };
            await ErrorResponses.WriteAsync(context, status, ex.Status.Detail);
            return;
        }

        context.Response.Headers[OffsetHeader] = offset.ToString(CultureInfo.InvariantCulture);
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var input = PumpInputAsync(socket, call.RequestStream, closed);
        var (closeStatus, reason) = (WebSocketCloseStatus.NormalClosure, "session closed");
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(closed.Token))
            {
                if (message.KindCase == SessionTerminalOutput.KindOneofCase.Data)
                {
                    await socket.SendAsync(message.Data.Memory, WebSocketMessageType.Binary, true, closed.Token);
                }
                else if (message.KindCase == SessionTerminalOutput.KindOneofCase.Exit)
                {
                    (closeStatus, reason) = message.Exit.ExitCode == OverflowExitCode
                        ? ((WebSocketCloseStatus)1013, message.Exit.Reason)
                        : (WebSocketCloseStatus.NormalClosure, $"{message.Exit.Reason} (exit code {message.Exit.ExitCode})");
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            (closeStatus, reason) = (WebSocketCloseStatus.InternalServerError, ex.Status.Detail);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException)
        {
        }
        await socket.CloseQuietlyAsync(closeStatus, reason);
        // Let the client answer the close handshake (the input pump ends on its close frame).
        await Task.WhenAny(input, Task.Delay(TimeSpan.FromSeconds(2)));
        await closed.CancelAsync();
        await input;
    }

    private static async Task PumpInputAsync(WebSocket socket, IClientStreamWriter<SessionTerminalInput> requests, CancellationTokenSource closed)
    {
        const int MaxMessage = 1024 * 1024;
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
                    await socket.CloseQuietlyAsync(WebSocketCloseStatus.MessageTooBig, "input frames are limited to 1 MiB");
                    break;
                }
                if (!result.EndOfMessage)
                {
                    continue;
                }
                var bytes = message.ToArray();
                message.SetLength(0);
                if (bytes.Length > 0)
                {
                    await requests.WriteAsync(ToInput(bytes, result.MessageType == WebSocketMessageType.Text), closed.Token);
                }
            }
            await requests.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException or InvalidOperationException)
        {
        }
        await closed.CancelAsync();
    }

    private static SessionTerminalInput ToInput(byte[] bytes, bool isText)
    {
        if (isText && bytes[0] == (byte)'{')
        {
            try
            {
                using var json = JsonDocument.Parse(bytes);
                var root = json.RootElement;
                if (root.ValueKind == JsonValueKind.Object
                    && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "resize"
                    && root.TryGetProperty("cols", out var c) && c.TryGetInt32(out var cols)
                    && root.TryGetProperty("rows", out var r) && r.TryGetInt32(out var rows))
                {
                    return new SessionTerminalInput { Resize = new TerminalResize { Cols = cols, Rows = rows } };
                }
            }
            catch (JsonException)
            {
            }
        }
        return new SessionTerminalInput { Data = ByteString.CopyFrom(bytes) };
    }
}
