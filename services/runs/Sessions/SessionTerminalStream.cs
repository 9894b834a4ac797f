using Baton.Contracts.Runs.V1;
using Baton.Runs.Streams;
using Google.Protobuf;
using Grpc.Core;
using System.Text.Json.Nodes;

namespace Baton.Runs.Sessions;

/// <summary>
/// The bidirectional stream behind <c>WS /ws/session/{id}</c>: a start message with the log offset of the first
/// byte, the replay (the log from <c>cursor</c>, or the recent output), then live output; input and resizes
/// from any number of viewers go to the session's runner.
/// </summary>
public static class SessionTerminalStream
{
    public const string StreamOpenHeader = "baton-stream";
    private const int MaxFrame = 64 * 1024;

    public static async Task RunAsync(SessionManager sessions, IAsyncStreamReader<SessionTerminalInput> input,
        IServerStreamWriter<SessionTerminalOutput> output, ServerCallContext context, ILogger logger)
    {
        var ct = context.CancellationToken;
        if (!await input.MoveNext(ct) || input.Current.KindCase != SessionTerminalInput.KindOneofCase.Open)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first message must be an open"));
        }
        var open = input.Current.Open;
        if (open.HasCursor && open.Cursor < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid cursor"));
        }
        var session = sessions.Get(open.Id) ?? throw new RpcException(new Status(StatusCode.NotFound, "terminal not found"));
        if (open.Cols > 0 && open.Rows > 0 && session.IsLive)
        {
            await ResizeAsync(sessions, session, open.Cols, open.Rows, ct);
        }

        using var viewer = session.Output.Attach(open.HasCursor ? open.Cursor : null);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await context.WriteResponseHeadersAsync(new Metadata { { StreamOpenHeader, "open" } });
        await output.WriteAsync(new SessionTerminalOutput { Start = new SessionTerminalStart { Offset = viewer.SnapshotOffset } }, ct);
        for (var sent = 0; sent < viewer.Snapshot.Length; sent += MaxFrame)
        {
            var slice = viewer.Snapshot.Slice(sent, Math.Min(MaxFrame, viewer.Snapshot.Length - sent));
            await output.WriteAsync(new SessionTerminalOutput { Data = UnsafeByteOperations.UnsafeWrap(slice) }, ct);
        }

        var reading = ReadInputAsync(sessions, session, input, done, logger);
        try
        {
            await foreach (var chunk in viewer.Live.ReadAllAsync(done.Token))
            {
                await output.WriteAsync(new SessionTerminalOutput { Data = UnsafeByteOperations.UnsafeWrap(chunk) }, done.Token);
            }
            var code = session.Runner.Exited.IsCompleted ? await session.Runner.Exited : -1;
            await output.WriteAsync(new SessionTerminalOutput { Exit = new TerminalExit { ExitCode = code, Reason = "session closed" } }, ct);
        }
        catch (SessionViewerOverflowException ex)
        {
            // -2: cut off for falling behind (the gateway closes the WebSocket with 1013; the client resumes by cursor).
            await output.WriteAsync(new SessionTerminalOutput { Exit = new TerminalExit { ExitCode = -2, Reason = ex.Message } }, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The viewer closed its side.
        }
        await done.CancelAsync();
        await reading;
    }

    private static async Task ReadInputAsync(SessionManager sessions, AgentSession session, IAsyncStreamReader<SessionTerminalInput> input,
        CancellationTokenSource done, ILogger logger)
    {
        var ct = done.Token;
        try
        {
            while (await input.MoveNext(ct))
            {
                var message = input.Current;
                switch (message.KindCase)
                {
                    case SessionTerminalInput.KindOneofCase.Data when !message.Data.IsEmpty:
                        await session.Runner.WriteAsync(message.Data.Memory, ct);
                        break;
                    case SessionTerminalInput.KindOneofCase.Resize when message.Resize.Cols > 0 && message.Resize.Rows > 0:
                        await ResizeAsync(sessions, session, message.Resize.Cols, message.Resize.Rows, ct);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or RpcException
            or SessionWindowNotFoundException or TmuxUnavailableException)
        {
            logger.LogDebug(ex, "Session terminal input of {SessionId} ended", session.Id);
        }
        // The viewer is gone (or cannot type any more): stop forwarding output to it only when it is gone.
        if (ct.IsCancellationRequested || !session.IsLive)
        {
            return;
        }
        await done.CancelAsync();
    }

    private static async Task ResizeAsync(SessionManager sessions, AgentSession session, int cols, int rows, CancellationToken ct)
    {
        var c = (ushort)Math.Clamp(cols, 1, 1000);
        var r = (ushort)Math.Clamp(rows, 1, 1000);
        try
        {
            await session.Runner.ResizeAsync(c, r, ct);
        }
        catch (TmuxUnavailableException)
        {
            return;
        }
        await sessions.PublishAsync(GestaltStream.Terminal, sessions.TerminalEvent("terminal-resized", session.Id, new JsonObject { ["cols"] = (int)c, ["rows"] = (int)r }));
    }
}
