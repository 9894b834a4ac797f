using Baton.Pty;

namespace Baton.Runs.Sessions;

/// <summary>The <c>server</c> runner: the agent's command line runs under <c>/bin/sh -c "exec …"</c> in a PTY of
/// Baton's own (Baton.Pty); the process group is killed when the session is deleted or the service stops.</summary>
public sealed class ServerRunner : ISessionRunner
{
    private readonly PtyProcess _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerRunner(PtyProcess process, SessionOutput output)
    {
        _process = process;
        _ = CompleteAsync(output);
    }

    public string Kind => "server";

    public Task<int> Exited => _exited.Task;

    public static ServerRunner Start(SessionLaunch launch, SessionOutput output)
    {
        var options = new PtySpawnOptions("/bin/sh", ["-c", "exec " + launch.Shell], launch.WorkingDirectory,
            launch.Environment, launch.Columns, launch.Rows);
        var process = PtyProcess.Spawn(options, chunk => output.Append(chunk.Span));
        return new ServerRunner(process, output);
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> input, CancellationToken ct)
    {
        try
        {
            await _process.WriteAsync(input, ct);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw new SessionWindowNotFoundException("session process has exited");
        }
    }

    public Task ResizeAsync(ushort columns, ushort rows, CancellationToken ct)
    {
        try
        {
            _process.Resize(columns, rows);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The terminal is gone; nothing to resize.
        }
        return Task.CompletedTask;
    }

    public Task ActivateAsync(CancellationToken ct) => throw new SessionNotTmuxManagedException();

    public async Task StopAsync(CancellationToken ct)
    {
        await _process.DisposeAsync();
        await _exited.Task;
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private async Task CompleteAsync(SessionOutput output)
    {
        var code = await _process.Exited;
        // Drains the output (bounded wait) and closes the terminal.
        await _process.DisposeAsync();
        output.Complete();
        _exited.TrySetResult(code);
    }
}
