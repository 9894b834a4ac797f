using Baton.Gateway.Streaming;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Baton.Contracts.Runs.V1;
using Baton.Gateway.Errors;
using Baton.Gateway.Logs;
using Google.Protobuf;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// WS <c>GET /api/terminal?run_id=</c> (or an ephemeral terminal with <c>cwd</c>, <c>cli</c>, <c>task</c>,
/// <c>cols</c>, <c>rows</c>) bridged onto the runs service's bidirectional <c>Terminal</c> stream.
/// Binary frames are terminal bytes both ways; a text frame <c>{"type":"resize","cols","rows"}</c>
/// resizes; other text frames (including the in-band <c>\x1b[RESIZE:c:r</c>) are sent as input.
/// </summary>
public static class TerminalBridge
{
    public static IEndpointRouteBuilder MapTerminalBridge(this IEndpointRouteBuilder app)
    {
        app.Map("/api/terminal", ServeAsync);
        return app;
    }

    private static async Task ServeAsync(HttpContext context, RunsService.RunsServiceClient runs, StreamingOptions streaming)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        var query = context.Request.Query;
        var open = new TerminalOpen
        {
            RunId = query["run_id"].ToString(),
            Cwd = query["cwd"].ToString(),
            Cli = query["cli"].ToString(),
            Task = query["task"].ToString(),
            Cols = int.TryParse(query["cols"], out var cols) && cols > 0 ? cols : 120,
            Rows = int.TryParse(query["rows"], out var rows) && rows > 0 ? rows : 30,
        };
        using var call = runs.Terminal(cancellationToken: context.RequestAborted);
        await call.RequestStream.WriteAsync(new TerminalInput { Open = open }, context.RequestAborted);
        try
        {
            var headers = await call.ResponseHeadersAsync;
            if (headers.GetValue(RunEventsBridge.StreamOpenHeader) is null)
            {
                // A trailers-only answer (unknown run, bad cwd …): this throws its status.
                await call.ResponseStream.MoveNext(context.RequestAborted);
                await ErrorResponses.WriteAsync(context, StatusCodes.Status502BadGateway, "the runs service did not open the terminal");
                return;
            }
        }
        catch (RpcException ex)
        {
            await ErrorResponses.WriteAsync(context, ex.StatusCode == StatusCode.NotFound ? 404 : ex.StatusCode == StatusCode.InvalidArgument ? 400 : 502, ex.Status.Detail);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var input = PumpInputAsync(socket, call.RequestStream, closed);
        var (status, reason) = (WebSocketCloseStatus.NormalClosure, "terminal closed");
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(closed.Token))
            {
                if (message.KindCase == TerminalOutput.KindOneofCase.Data)
                {
                    await socket.SendAsync(message.Data.Memory, WebSocketMessageType.Binary, true, closed.Token);
                }
                else if (message.KindCase == TerminalOutput.KindOneofCase.Exit)
                {
                    reason = $"{message.Exit.Reason} (exit code {message.Exit.ExitCode})";
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            (status, reason) = (WebSocketCloseStatus.InternalServerError, ex.Status.Detail);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException)
        {
        }
        await socket.CloseQuietlyAsync(status, reason);
        // Let the client answer the close handshake (the input pump ends on its close frame).
        await Task.WhenAny(input, Task.Delay(TimeSpan.FromSeconds(2)));
        await closed.CancelAsync();
        await input;
    }

    private static async Task PumpInputAsync(WebSocket socket, IClientStreamWriter<TerminalInput> requests, CancellationTokenSource closed)
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
                if (!result.EndOfMessage)
                {
                    continue;
                }
                var bytes = message.ToArray();
                message.SetLength(0);
                await requests.WriteAsync(ToInput(bytes, result.MessageType == WebSocketMessageType.Text), closed.Token);
            }
            await requests.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException or InvalidOperationException)
        {
        }
        await closed.CancelAsync();
    }

    private static TerminalInput ToInput(byte[] bytes, bool isText)
    {
        if (isText && bytes.Length > 0 && bytes[0] == (byte)'{')
        {
            try
            {
                using var json = JsonDocument.Parse(bytes);
                var root = json.RootElement;
                if (root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "resize"
                    && root.TryGetProperty("cols", out var c) && c.TryGetInt32(out var cols)
                    && root.TryGetProperty("rows", out var r) && r.TryGetInt32(out var rows))
                {
                    return new TerminalInput { Resize = new TerminalResize { Cols = cols, Rows = rows } };
                }
                if (root.TryGetProperty("type", out type) && type.GetString() == "input" && root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String)
                {
                    return new TerminalInput { Data = ByteString.CopyFrom(Encoding.UTF8.GetBytes(data.GetString()!)) };
                }
            }
            catch (JsonException)
            {
            }
        }
        return new TerminalInput { Data = ByteString.CopyFrom(bytes) };
    }

}
