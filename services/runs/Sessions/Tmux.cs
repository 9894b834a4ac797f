using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Baton.Pty;

namespace Baton.Runs.Sessions;

/// <summary>
/// The user's own tmux server, reached through the <c>tmux</c> CLI exactly as <c>tmux attach</c> would reach it
/// (the default socket, so <c>TMUX_TMPDIR</c> is honoured). Every command goes through one queue: tmux
/// bridges that wrote concurrently lost or interleaved input (NOTES §1.7). Baton's own variables are removed
/// from the environment so a tmux server started here never inherits them.
/// </summary>
public sealed partial class Tmux(ILogger<Tmux> logger) : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _queue = new(1, 1);
    private readonly SemaphoreSlim _controlStart = new(1, 1);
    private readonly Dictionary<string, TmuxControl> _controls = new(StringComparer.Ordinal);

    public string Executable { get; init; } = "tmux";

    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public bool Ok => ExitCode == 0;

        /// <summary>The target (window, pane or session) or the whole server is gone.</summary>
        public bool TargetMissing =>
            Error.Contains("can't find", StringComparison.Ordinal)
            || Error.Contains("no server running", StringComparison.Ordinal)
            || Error.Contains("error connecting to", StringComparison.Ordinal)
            || Error.Contains("no such", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Runs one tmux command; throws <see cref="TmuxUnavailableException"/> when tmux cannot be run.</summary>
    public async Task<Result> RunAsync(IReadOnlyList<string> arguments, ReadOnlyMemory<byte> input = default, CancellationToken ct = default)
    {
        await _queue.WaitAsync(ct);
        try
        {
            return await RunUnqueuedAsync(arguments, input, ct);
        }
        finally
        {
            _queue.Release();
        }
    }

    /// <summary>Runs several commands back to back with nothing of anyone else's between them.</summary>
    public async Task<T> ExclusiveAsync<T>(Func<Func<IReadOnlyList<string>, ReadOnlyMemory<byte>, Task<Result>>, Task<T>> work, CancellationToken ct)
    {
        await _queue.WaitAsync(ct);
        try
        {
            return await work((args, input) => RunUnqueuedAsync(args, input, ct));
        }
        finally
        {
            _queue.Release();
        }
    }

    /// <summary>
    /// Types <paramref name="input"/> into a pane, byte for byte: through the control-mode client of its tmux session
    /// (started on first use), or, when that is not possible, one <c>load-buffer</c>/<c>paste-buffer</c> invocation.
    /// </summary>
    public async Task<Result> SendInputAsync(string session, string pane, ReadOnlyMemory<byte> input, CancellationToken ct)
    {
        if (await ControlAsync(session, ct) is { } control)
        {
            try
            {
                return await control.SendBytesAsync(pane, input, ct);
            }
            catch (IOException ex)
            {
                logger.LogDebug(ex, "tmux control client of {Session} failed; pasting instead", session);
            }
        }
        var buffer = "baton-input-" + Guid.NewGuid().ToString("N");
        var pasted = await RunAsync(["load-buffer", "-b", buffer, "-", ";", "paste-buffer", "-d", "-r", "-b", buffer, "-t", pane], input, ct);
        if (!pasted.Ok)
        {
            await RunAsync(["delete-buffer", "-b", buffer], ct: CancellationToken.None);
        }
        return pasted;
    }

    private async Task<TmuxControl?> ControlAsync(string session, CancellationToken ct)
    {
        await _controlStart.WaitAsync(ct);
        try
        {
            if (_controls.TryGetValue(session, out var existing))
            {
                if (existing.Alive)
                {
                    return existing;
                }
                _controls.Remove(session);
                await existing.DisposeAsync();
            }
            try
            {
                var control = TmuxControl.Start(Executable, session);
                _controls[session] = control;
                return control;
            }
            catch (Exception ex) when (ex is Win32Exception or TmuxUnavailableException or InvalidOperationException)
            {
                logger.LogDebug(ex, "No tmux control client for {Session}", session);
                return null;
            }
        }
        finally
        {
            _controlStart.Release();
        }
    }

    public void Dispose()
    {
        foreach (var control in _controls.Values)
        {
            control.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
        }
        _controls.Clear();
        _queue.Dispose();
        _controlStart.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var control in _controls.Values)
        {
            await control.DisposeAsync();
        }
        _controls.Clear();
        _queue.Dispose();
        _controlStart.Dispose();
    }

    private async Task<Result> RunUnqueuedAsync(IReadOnlyList<string> arguments, ReadOnlyMemory<byte> input, CancellationToken ct)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var key in start.Environment.Keys.Where(PtyProcess.IsBatonPlumbing).ToList())
        {
            start.Environment.Remove(key);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new TmuxUnavailableException($"tmux unavailable: {ex.Message}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            if (!input.IsEmpty)
            {
                await process.StandardInput.BaseStream.WriteAsync(input, timeout.Token);
            }
            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
            var result = new Result(process.ExitCode, await stdout, (await stderr).Trim());
            if (!result.Ok)
            {
                logger.LogDebug("tmux {Command} exited {Code}: {Error}", arguments[0], result.ExitCode, result.Error);
            }
            return result;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            TryKill(process);
            throw new TmuxUnavailableException($"tmux {arguments[0]} did not answer within {CommandTimeout.TotalSeconds:0} s");
        }
        catch (IOException ex)
        {
            TryKill(process);
            throw new TmuxUnavailableException($"tmux {arguments[0]} failed: {ex.Message}");
        }
        catch (OperationCanceledException)
        {
            TryKill(process);
            throw;
        }
    }

    private static void TryKill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>A single-quoted word for <c>/bin/sh</c> (pipe-pane runs its command through the shell).</summary>
    public static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Creates a FIFO (mkfifo(3), mode 0600).</summary>
    public static void MakeFifo(string path)
    {
        if (MkFifo(path, Convert.ToUInt32("600", 8)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mkfifo {path} failed (errno {errno})");
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);

    /// <summary>The tmux session that holds the external sessions of one working directory.</summary>
    public static string SessionNameFor(string workingDirectory)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(workingDirectory));
        var safe = new StringBuilder();
        foreach (var c in name)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_');
        }
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(workingDirectory)))[..6].ToLowerInvariant();
        return $"baton-{(safe.Length > 0 ? safe.ToString() : "root")}-{hash}";
    }
}
