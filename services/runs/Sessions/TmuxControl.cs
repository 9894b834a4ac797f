using System.Diagnostics;
using System.Text;
using Baton.Pty;

namespace Baton.Runs.Sessions;

/// <summary>
/// A tmux control-mode client (<c>tmux -C attach -f no-output,ignore-size</c>) attached to one tmux session, so
/// a keystroke is one line on a pipe instead of a tmux process (tens of milliseconds on a busy machine). It
/// neither receives pane output nor affects window sizes. Commands are answered in order
/// (<c>%begin</c>…<c>%end</c>/<c>%error</c>); one at a time, so writes stay serialized.
/// </summary>
public sealed class TmuxControl : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Task _reader;
    private TaskCompletionSource<Tmux.Result>? _pending;

    private TmuxControl(Process process)
    {
        _process = process;
        _reader = Task.Run(ReadAsync);
    }

    public bool Alive => !_reader.IsCompleted;

    public static TmuxControl Start(string executable, string session)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in (string[])["-C", "attach-session", "-t", "=" + session, "-f", "no-output,ignore-size"])
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var key in start.Environment.Keys.Where(PtyProcess.IsBatonPlumbing).ToList())
        {
            start.Environment.Remove(key);
        }
        var process = Process.Start(start) ?? throw new TmuxUnavailableException("tmux control mode did not start");
        _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
        return new TmuxControl(process);
    }

    /// <summary>Runs one command line (already quoted for tmux); throws <see cref="IOException"/> when the client is gone.</summary>
    public async Task<Tmux.Result> RunAsync(string command, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (!Alive)
            {
                throw new IOException("the tmux control client has exited");
            }
            var pending = new TaskCompletionSource<Tmux.Result>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _pending, pending);
            await _process.StandardInput.WriteAsync((command + "\n").AsMemory(), ct);
            await _process.StandardInput.FlushAsync(ct);
            return await pending.Task.WaitAsync(CommandTimeout, ct);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new IOException("the tmux control client did not answer");
        }
        finally
        {
            Volatile.Write(ref _pending, null);
            _gate.Release();
        }
    }

    /// <summary><c>send-keys -H</c>: every byte exactly as given (control characters, invalid UTF-8, NUL included).</summary>
    public async Task<Tmux.Result> SendBytesAsync(string pane, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        const int PerCommand = 512;
        Tmux.Result result = new(0, "", "");
        for (var offset = 0; offset < bytes.Length && result.Ok; offset += PerCommand)
        {
            var slice = bytes.Span.Slice(offset, Math.Min(PerCommand, bytes.Length - offset));
            var line = new StringBuilder("send-keys -H -t ").Append(pane);
            foreach (var b in slice)
            {
                line.Append(' ').Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
            result = await RunAsync(line.ToString(), ct);
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
        _gate.Dispose();
    }

    private void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }

    private async Task ReadAsync()
    {
        var output = new StringBuilder();
        var inBlock = false;
        var ours = false;
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (!inBlock && line.StartsWith("%begin ", StringComparison.Ordinal))
                {
                    inBlock = true;
                    // Flags 1: a command this client sent; 0: the attach itself.
                    ours = line.EndsWith(" 1", StringComparison.Ordinal);
                    output.Clear();
                }
                else if (inBlock && (line.StartsWith("%end ", StringComparison.Ordinal) || line.StartsWith("%error ", StringComparison.Ordinal)))
                {
                    inBlock = false;
                    if (ours)
                    {
                        var failed = line.StartsWith("%error ", StringComparison.Ordinal);
                        var text = output.ToString().TrimEnd('\n');
                        Volatile.Read(ref _pending)?.TrySetResult(failed ? new Tmux.Result(1, "", text) : new Tmux.Result(0, text, ""));
                    }
                }
                else if (inBlock)
                {
                    output.Append(line).Append('\n');
                }
            }
        }
        finally
        {
            Volatile.Read(ref _pending)?.TrySetException(new IOException("the tmux control client has exited"));
        }
    }
}
