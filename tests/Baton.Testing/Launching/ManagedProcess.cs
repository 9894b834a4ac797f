using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Baton.AppHost.Orchestration;

/// <summary>One child process: its output prefixed and coloured, stopped with SIGTERM then SIGKILL, never restarted silently.</summary>
public sealed partial class ManagedProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private static readonly string[] Colors = ["\u001b[36m", "\u001b[35m", "\u001b[33m", "\u001b[32m", "\u001b[34m", "\u001b[91m", "\u001b[96m"];
    private static int _nextColor;

    private readonly Process _process;
    private readonly string _prefix;
    private readonly Action<string, string> _output;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    private ManagedProcess(string name, Process process, bool useColor, Action<string, string> output)
    {
        Name = name;
        _process = process;
        _output = output;
        var color = Colors[Interlocked.Increment(ref _nextColor) % Colors.Length];
        _prefix = useColor ? $"{color}{name,-12}|\u001b[0m " : $"{name,-12}| ";
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public Task<int> Exited => _exited.Task;
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Raised when the process exits without being asked to.</summary>
    public event Action<ManagedProcess, int>? Crashed;

    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, bool useColor, Action<string, string> output)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // Admin credentials reach only the process that checks them (the launcher passes them to the gateway explicitly).
        start.Environment.Remove("BATON_TOKEN");
        start.Environment.Remove("GESTALT_TOKEN");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var managed = new ManagedProcess(name, process, useColor, output);
        process.OutputDataReceived += (_, e) => managed.Line(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Line(e.Data);
        process.Exited += (_, _) => managed.OnExited();
        if (!process.Start())
        {
            throw new LaunchException($"could not start {name} ({fileName})");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    private void Line(string? line)
    {
        if (line is not null)
        {
            _output(Name, _prefix + line);
        }
    }

    private void OnExited()
    {
        // WaitForExit drains the redirected output before the exit code is reported.
        _process.WaitForExit();
        var code = _process.ExitCode;
        _exited.TrySetResult(code);
        if (!_stopping)
        {
            Crashed?.Invoke(this, code);
        }
    }

    /// <summary>From now on an exit is expected (the launcher is shutting down; children may get the terminal's signal first).</summary>
    public void ExpectExit() => _stopping = true;

    /// <summary>SIGTERM, then SIGKILL of the whole tree after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        if (HasExited)
        {
            return;
        }
        try
        {
            Kill(_process.Id, Sigterm);
            await _exited.Task.WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            _output(Name, _prefix + $"did not stop within {grace.TotalSeconds:0} s of SIGTERM; killing it");
            _process.Kill(entireProcessTree: true);
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
