using Baton.Contracts.Runs.V1;
using Baton.Pty;
using Baton.Runs.Execution;
using Baton.ServiceDefaults.Configuration;
using Google.Protobuf;
using Grpc.Core;

namespace Baton.Runs.Terminals;

/// <summary>
/// The bidirectional terminal stream behind WS <c>/api/terminal</c>: attach to a run's PTY (recent
/// output first, then live; any viewer can type and resize), resume a paused run's CLI interactively
/// when it has none, or start an ephemeral terminal that is killed when its viewer leaves.
/// </summary>
public sealed class TerminalService(RunManager runs, TerminalHub hub, RunsConfiguration configuration, BatonOptions options, ILogger<TerminalService> logger)
{
    public async Task RunAsync(IAsyncStreamReader<TerminalInput> input, IServerStreamWriter<TerminalOutput> output, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await input.MoveNext(ct) || input.Current.KindCase != TerminalInput.KindOneofCase.Open)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first terminal message must be an open"));
        }
        var open = input.Current.Open;
        TerminalSession session;
        var ephemeral = string.IsNullOrEmpty(open.RunId);
        if (ephemeral)
        {
            session = StartEphemeral(open);
            hub.EphemeralStarted();
        }
        else
        {
            await runs.GetAsync(open.RunId, ct);
            var live = runs.FindProcess(open.RunId)?.Terminal
                ?? await runs.OpenInteractiveAsync(open.RunId, open.Cols > 0 ? open.Cols : 120, open.Rows > 0 ? open.Rows : 30, ct);
            if (live is null)
            {
                await context.WriteResponseHeadersAsync(new Metadata { { "baton-stream", "open" } });
                // No live PTY: the recorded output, then the end.
                await output.WriteAsync(new TerminalOutput { Data = ByteString.CopyFrom(await ReadLogTailAsync(runs.LogPath(open.RunId), ct)) }, ct);
                await output.WriteAsync(new TerminalOutput { Exit = new TerminalExit { ExitCode = -1, Reason = "the run has no live terminal" } }, ct);
                return;
            }
            session = live;
            if (open.Cols > 0 && open.Rows > 0)
            {
                session.Resize((ushort)open.Cols, (ushort)open.Rows);
            }
        }

        var viewer = session.Attach();
        hub.ViewerAttached();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            await context.WriteResponseHeadersAsync(new Metadata { { "baton-stream", "open" } });
            if (!viewer.Snapshot.IsEmpty)
            {
                await output.WriteAsync(new TerminalOutput { Data = ByteString.CopyFrom(viewer.Snapshot.Span) }, ct);
            }
            var reading = ReadInputAsync(input, session, done);
            try
            {
                await foreach (var chunk in viewer.Live.ReadAllAsync(done.Token))
                {
                    await output.WriteAsync(new TerminalOutput { Data = ByteString.CopyFrom(chunk.Span) }, done.Token);
                }
                var code = await session.Process.Exited;
                await output.WriteAsync(new TerminalOutput { Exit = new TerminalExit { ExitCode = code, Reason = "process exited" } }, ct);
            }
            catch (TerminalViewerOverflowException ex)
            {
                await output.WriteAsync(new TerminalOutput { Exit = new TerminalExit { ExitCode = -1, Reason = ex.Message } }, ct);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // The viewer closed its side.
            }
            await done.CancelAsync();
            await reading;
        }
        finally
        {
            viewer.Dispose();
            hub.ViewerDetached();
            if (ephemeral)
            {
                hub.EphemeralEnded();
                await session.DisposeAsync();
            }
        }
    }

    private async Task ReadInputAsync(IAsyncStreamReader<TerminalInput> input, TerminalSession session, CancellationTokenSource done)
    {
        var ct = done.Token;
        try
        {
            while (await input.MoveNext(ct))
            {
                var message = input.Current;
                switch (message.KindCase)
                {
                    case TerminalInput.KindOneofCase.Data:
                        var bytes = message.Data.Memory;
                        if (TerminalSession.TryParseInBandResize(bytes.Span, out var cols, out var rows))
                        {
                            session.Resize(cols, rows);
                        }
                        else
                        {
                            await session.WriteInputAsync(bytes, ct);
                        }
                        break;
                    case TerminalInput.KindOneofCase.Resize when message.Resize.Cols > 0 && message.Resize.Rows > 0:
                        session.Resize((ushort)Math.Min(message.Resize.Cols, ushort.MaxValue), (ushort)Math.Min(message.Resize.Rows, ushort.MaxValue));
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or RpcException)
        {
            logger.LogDebug(ex, "Terminal input ended");
        }
        // The viewer is gone: stop forwarding output to it.
        await done.CancelAsync();
    }

    private TerminalSession StartEphemeral(TerminalOpen open)
    {
        var cwd = string.IsNullOrEmpty(open.Cwd) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : open.Cwd;
        if (!Directory.Exists(cwd))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"cwd {cwd} does not exist"));
        }
        var cli = string.IsNullOrEmpty(open.Cli) ? "claude" : open.Cli;
        var fileName = cli is "claude" or "claude-code" ? configuration.ClaudeCommand : cli is "codex" ? configuration.CodexCommand : cli;
        var args = new List<string>();
        if (!string.IsNullOrEmpty(open.Task))
        {
            args.AddRange(["-p", open.Task]);
        }
        var cols = (ushort)(open.Cols > 0 ? Math.Min(open.Cols, ushort.MaxValue) : 120);
        var rows = (ushort)(open.Rows > 0 ? Math.Min(open.Rows, ushort.MaxValue) : 30);
        var log = Path.Combine(options.ServiceDataDir, "terminals", $"{Guid.NewGuid()}.log");
        try
        {
            var session = TerminalSession.Start(new PtySpawnOptions(fileName, args, cwd, new Dictionary<string, string>(), cols, rows), log, configuration.TerminalRingBytes);
            _ = session.Completion.ContinueWith(_ => TryDelete(log), TaskScheduler.Default);
            return session;
        }
        catch (PtySpawnException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"could not start {fileName}: {ex.Message}"));
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private async Task<byte[]> ReadLogTailAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return [];
        }
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var start = Math.Max(0, file.Length - configuration.TerminalRingBytes);
        file.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[file.Length - start];
        await file.ReadExactlyAsync(buffer, ct);
        return buffer;
    }
}
