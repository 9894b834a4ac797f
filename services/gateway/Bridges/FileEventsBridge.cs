using Baton.Gateway.Streaming;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Baton.Contracts.Git.V1;
using Baton.Gateway.Logs;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// <c>WS /ws/events</c> (000_* filesystem events): a bridge onto the git service's
/// <c>WatchFileEvents</c> stream. Frames are <c>{"type":"file-change","op","path","timestamp",…}</c>;
/// a client may send <c>{"subscribe":["file-change",…]}</c> (or op names: create, modify, delete,
/// rename) at any time to choose what it receives; until then it receives everything.
/// </summary>
public static class FileEventsBridge
{
    public const string FileChange = "file-change";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static IEndpointRouteBuilder MapFileEventsBridge(this IEndpointRouteBuilder app)
    {
        app.Map("/ws/events", BridgeAsync);
        return app;
    }

    private static async Task BridgeAsync(HttpContext context, GitRestService.GitRestServiceClient git, StreamingOptions streaming, ILoggerFactory loggers)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Errors.ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "this route accepts WebSocket upgrades only");
            return;
        }
        var logger = loggers.CreateLogger(typeof(FileEventsBridge));
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = streaming.KeepAliveInterval });
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var filter = new Filter();
        var reading = ReadSubscriptionsAsync(socket, filter, closed);
        try
        {
            using var call = git.WatchFileEvents(new WatchFileEventsRequest(), cancellationToken: closed.Token);
            await foreach (var evt in call.ResponseStream.ReadAllAsync(closed.Token))
            {
                if (!filter.Passes(evt.Type))
                {
                    continue;
                }
                var frame = JsonSerializer.Serialize(new Frame(FileChange, evt.Type, evt.Path, evt.Timestamp,
                    NullIfEmpty(evt.OldPath), NullIfEmpty(evt.RepoId), NullIfEmpty(evt.RunId)), Json);
                await socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, closed.Token);
            }
            await socket.CloseQuietlyAsync(WebSocketCloseStatus.NormalClosure, "event stream ended");
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            logger.LogWarning("File event stream from git failed: {Status}", ex.Status);
            await socket.CloseQuietlyAsync(ex.StatusCode == StatusCode.ResourceExhausted ? (WebSocketCloseStatus)1013 : WebSocketCloseStatus.InternalServerError,
                ex.StatusCode == StatusCode.ResourceExhausted ? "slow consumer: reconnect" : "git service unavailable");
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or RpcException)
        {
        }
        await closed.CancelAsync();
        await reading;
    }

    private static async Task ReadSubscriptionsAsync(WebSocket socket, Filter filter, CancellationTokenSource closed)
    {
        var buffer = new byte[8192];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, closed.Token);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage && message.Length < 64 * 1024);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                filter.Apply(message.ToArray());
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        await closed.CancelAsync();
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private sealed record Frame(
        string Type, string Op, string Path, string Timestamp,
        [property: JsonPropertyName("old_path")] string? OldPath,
        [property: JsonPropertyName("repo_id")] string? RepoId,
        [property: JsonPropertyName("run_id")] string? RunId);

    /// <summary>The client's current subscription; null means everything.</summary>
    private sealed class Filter
    {
        private volatile HashSet<string>? _types;

        public bool Passes(string op)
        {
            var types = _types;
            return types is null || types.Contains(FileChange) || types.Contains(op);
        }

        public void Apply(byte[] json)
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("subscribe", out var subscribe) && subscribe.ValueKind == JsonValueKind.Array)
                {
                    _types = subscribe.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String)
                        .Select(e => e.GetString()!).ToHashSet(StringComparer.OrdinalIgnoreCase);
                }
            }
            catch (JsonException)
            {
                // Not a subscription message: ignored, like any other client chatter.
            }
        }
    }
}
