using System.Text;
using Baton.Pty;

namespace Baton.Pty.Tests;

/// <summary>Collects bytes from a reader thread and lets a test wait for a condition on them.</summary>
internal sealed class OutputCollector
{
    private readonly object _gate = new();
    private readonly MemoryStream _bytes = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Append(ReadOnlyMemory<byte> chunk)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _bytes.Write(chunk.Span);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public byte[] Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes.ToArray();
            }
        }
    }

    public string Text => Encoding.UTF8.GetString(Bytes);

    public async Task<string> WaitForAsync(Func<string, bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            Task changed;
            string text;
            lock (_gate)
            {
                changed = _changed.Task;
                text = Encoding.UTF8.GetString(_bytes.ToArray());
            }

            if (condition(text))
            {
                return text;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"condition not met; output so far:\n{text}");
            }
        }
    }

    public Task<string> WaitForTextAsync(string needle, TimeSpan? timeout = null) =>
        WaitForAsync(text => text.Contains(needle, StringComparison.Ordinal), timeout);
}

internal static class Pty
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static PtySpawnOptions Bash(string script, IReadOnlyDictionary<string, string>? environment = null, ushort columns = 120, ushort rows = 30) =>
        new("bash", ["--noprofile", "--norc", "-c", script], Path.GetTempPath(),
            environment ?? new Dictionary<string, string>(), columns, rows);

    public static (PtyProcess Process, OutputCollector Output) Start(PtySpawnOptions options)
    {
        var output = new OutputCollector();
        var process = PtyProcess.Spawn(options, output.Append);
        return (process, output);
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(condition, timeout ?? Timeout, what);
}
