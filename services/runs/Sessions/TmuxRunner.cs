using System.Globalization;

namespace Baton.Runs.Sessions;

/// <summary>
/// The <c>external</c> runner: a real tmux window named after the session id, in one tmux session per working
/// directory on the user's own server, so <c>tmux attach</c> shows it. The pane's output reaches Baton through
/// <c>pipe-pane</c> into a FIFO; the command starts only once that pipe is in place (a <c>wait-for</c> gate), so
/// no early byte is lost. Input is sent byte for byte (<c>send-keys -H</c>) through one ordered channel
/// (a control-mode client per tmux session, see <see cref="TmuxControl"/>). The window closing (its process exited, or a user killed it) ends the pipe and the session.
/// </summary>
public sealed class TmuxRunner : ISessionRunner
{
    private readonly Tmux _tmux;
    private readonly string _fifo;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _pipeOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;

    private TmuxRunner(Tmux tmux, string fifo, ILogger logger)
    {
        _tmux = tmux;
        _fifo = fifo;
        _logger = logger;
    }

    public string Kind => "external";

    public Task<int> Exited => _exited.Task;

    public string TmuxSession { get; private set; } = "";

    public string WindowId { get; private set; } = "";

    public string PaneId { get; private set; } = "";

    public static async Task<TmuxRunner> StartAsync(Tmux tmux, SessionLaunch launch, SessionOutput output, string fifo, ILogger logger, CancellationToken ct)
    {
        File.Delete(fifo);
        Tmux.MakeFifo(fifo);
        var runner = new TmuxRunner(tmux, fifo, logger);
        var reader = new Thread(() => runner.ReadPipe(output)) { IsBackground = true, Name = "tmux pipe " + launch.SessionId };
        reader.Start();
        try
        {
            await runner.CreateWindowAsync(launch, ct);
            return runner;
        }
        catch
        {
            runner.UnblockReader();
            throw;
        }
    }

    private async Task CreateWindowAsync(SessionLaunch launch, CancellationToken ct)
    {
        var name = Tmux.SessionNameFor(launch.WorkingDirectory);
        var gate = "baton-gate-" + Guid.NewGuid().ToString("N");
        var environment = launch.Environment.SelectMany(pair => new[] { "-e", $"{pair.Key}={pair.Value}" }).ToList();
        List<string> command = ["/bin/sh", "-c", "tmux wait-for \"$1\" && exec /bin/sh -c \"$2\"", "baton-gate", gate, "exec " + launch.Shell];

        await _tmux.ExclusiveAsync<bool>(async run =>
        {
            var exists = (await run(["has-session", "-t", "=" + name], default)).Ok;
            List<string> create = exists
                ? ["new-window", "-d", "-t", $"={name}:", "-n", launch.SessionId, "-c", launch.WorkingDirectory, "-P", "-F", "#{window_id} #{pane_id}"]
                : ["new-session", "-d", "-s", name, "-n", launch.SessionId, "-c", launch.WorkingDirectory,
                    "-x", launch.Columns.ToString(CultureInfo.InvariantCulture), "-y", launch.Rows.ToString(CultureInfo.InvariantCulture),
                    "-P", "-F", "#{window_id} #{pane_id}"];
            create.AddRange(environment);
            create.Add("--");
            create.AddRange(command);
            var created = await run(create, default);
            var ids = created.Output.Trim().Split(' ');
            if (!created.Ok || ids.Length != 2)
            {
                throw new TmuxUnavailableException($"tmux could not create the session window: {created.Error}");
            }
            (TmuxSession, WindowId, PaneId) = (name, ids[0], ids[1]);
            await run(["set-option", "-w", "-t", WindowId, "remain-on-exit", "off"], default);
            var piped = await run(["pipe-pane", "-O", "-t", PaneId, "exec cat > " + Tmux.ShellQuote(_fifo)], default);
            if (!piped.Ok)
            {
                await run(["kill-window", "-t", WindowId], default);
                throw new TmuxUnavailableException($"tmux could not pipe the session window: {piped.Error}");
            }
            await run(["wait-for", "-S", gate], default);
            return true;
        }, ct);
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> input, CancellationToken ct)
    {
        if (_exited.Task.IsCompleted)
        {
            throw new SessionWindowNotFoundException();
        }
        var sent = await _tmux.SendInputAsync(TmuxSession, PaneId, input, ct);
        if (!sent.Ok)
        {
            throw sent.TargetMissing ? new SessionWindowNotFoundException() : new TmuxUnavailableException($"tmux could not send the input: {sent.Error}");
        }
    }

    public async Task ResizeAsync(ushort columns, ushort rows, CancellationToken ct)
    {
        if (_exited.Task.IsCompleted)
        {
            return;
        }
        await _tmux.RunAsync(["resize-window", "-t", WindowId, "-x", columns.ToString(CultureInfo.InvariantCulture), "-y", rows.ToString(CultureInfo.InvariantCulture)], ct: ct);
    }

    public async Task ActivateAsync(CancellationToken ct)
    {
        if (_exited.Task.IsCompleted)
        {
            throw new SessionWindowNotFoundException();
        }
        var selected = await _tmux.RunAsync(["select-window", "-t", WindowId], ct: ct);
        if (!selected.Ok)
        {
            throw selected.TargetMissing ? new SessionWindowNotFoundException() : new TmuxUnavailableException($"tmux select-window failed: {selected.Error}");
        }
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (!_exited.Task.IsCompleted)
        {
            try
            {
                await _tmux.RunAsync(["kill-window", "-t", WindowId], ct: ct);
            }
            catch (TmuxUnavailableException ex)
            {
                _logger.LogWarning("Closing tmux window {Window} failed: {Problem}", WindowId, ex.Message);
            }
        }
        if (await Task.WhenAny(_exited.Task, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)) != _exited.Task)
        {
            // The pipe never opened or never closed: end the reader ourselves.
            UnblockReader();
            await ((Task)_exited.Task).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private void ReadPipe(SessionOutput output)
    {
        try
        {
            // Blocks until pipe-pane's cat opens the FIFO for writing; ends when the pane closes.
            using var pipe = new FileStream(_fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            _pipeOpened.TrySetResult();
            var buffer = new byte[32 * 1024];
            int read;
            while ((read = pipe.Read(buffer)) > 0)
            {
                output.Append(buffer.AsSpan(0, read));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug(ex, "The tmux pipe of {Pane} ended", PaneId);
        }
        finally
        {
            output.Complete();
            try
            {
                File.Delete(_fifo);
            }
            catch (IOException)
            {
            }
            _exited.TrySetResult(-1);
        }
    }

    private void UnblockReader()
    {
        if (_pipeOpened.Task.IsCompleted || _exited.Task.IsCompleted)
        {
            return;
        }
        // Opening the FIFO for writing releases the reader blocked in open(2); closing it gives EOF.
        _ = Task.Run(() =>
        {
            try
            {
                using var writer = new FileStream(_fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        });
    }
}
