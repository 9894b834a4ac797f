using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Baton.Chat.Sandbox;

public sealed record CommandResult(string Output, int ExitCode, bool TimedOut, bool Truncated);

/// <summary>
/// Runs the <c>bash</c> tool's commands in the workspace, in a session of their own so every
/// process they start is killed when they end or time out. With the sandbox enabled the command
/// runs under bubblewrap: the host read-only, Baton's data folder hidden, only the workspace
/// writable (or read-only), a private /tmp, its own PID namespace, no network unless allowed,
/// and an address-space limit.
/// </summary>
public sealed partial class CommandRunner(ChatOptions options, ILogger<CommandRunner> logger)
{
    private const int SigKill = 9;

    public async Task<CommandResult> RunAsync(string command, string workspace, SandboxSettings sandbox, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workspace,
        };
        // Commands never inherit Baton's environment (internal secret, tokens, service addresses).
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        start.Environment["HOME"] = workspace;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["TERM"] = "dumb";
        start.ArgumentList.Add("--");
        TimeSpan timeout;
        if (sandbox.Enabled)
        {
            if (options.BwrapPath is null)
            {
                return new CommandResult("the sandbox is enabled but bubblewrap (bwrap) is not installed; the command was not run", 127, false, false);
            }
            timeout = TimeSpan.FromSeconds(sandbox.TimeoutSeconds);
            // Ends with the shell that takes the command as its $1.
            AddBubblewrap(start.ArgumentList, workspace, sandbox);
        }
        else
        {
            timeout = options.CommandTimeout;
            start.ArgumentList.Add("/bin/bash");
            start.ArgumentList.Add("-c");
        }
        start.ArgumentList.Add(command);

        using var process = new Process { StartInfo = start };
        process.Start();
        process.StandardInput.Close();
        var output = new BoundedOutput(options.ToolOutputLimit);
        var stdout = output.PumpAsync(process.StandardOutput);
        var stderr = output.PumpAsync(process.StandardError);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = !cancellationToken.IsCancellationRequested;
        }
        finally
        {
            // The session's whole process group, background jobs included, ends with the command.
            KillGroup(process.Id);
            if (!process.HasExited)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
        await process.WaitForExitAsync(CancellationToken.None);
        await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
        cancellationToken.ThrowIfCancellationRequested();
        var text = output.ToString();
        if (timedOut)
        {
            logger.LogInformation("A tool command timed out after {Seconds} s and was killed", timeout.TotalSeconds);
            text += $"\n[command timed out after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s and was killed]";
        }
        return new CommandResult(text, timedOut ? 124 : process.ExitCode, timedOut, output.Truncated);
    }

    private void AddBubblewrap(IList<string> args, string workspace, SandboxSettings sandbox)
    {
        args.Add(options.BwrapPath!);
        foreach (var arg in (string[])["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"])
        {
            args.Add(arg);
        }
        if (!sandbox.NetworkEnabled)
        {
            args.Add("--unshare-net");
        }
        // Hide Baton's data (databases, the profile key, other chats' workspaces), then mount this workspace back.
        if (Directory.Exists(options.BatonDataDir))
        {
            args.Add("--tmpfs");
            args.Add(options.BatonDataDir);
        }
        args.Add(sandbox.WorkspaceMode == "ro" ? "--ro-bind" : "--bind");
        args.Add(workspace);
        args.Add(workspace);
        args.Add("--chdir");
        args.Add(workspace);
        args.Add("--setenv");
        args.Add("HOME");
        args.Add(workspace);
        args.Add("--");
        // The memory limit is an address-space limit set by the shell before it runs the command.
        args.Add("/bin/bash");
        args.Add("-c");
        args.Add($"ulimit -v {sandbox.MemoryBytes / 1024} || exit 125; exec /bin/bash -c \"$1\"");
        args.Add("baton-sandbox");
    }

    private static void KillGroup(int pid)
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Kill(-pid, SigKill);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>stdout and stderr interleaved as they arrive, keeping the first <c>limit</c> characters.</summary>
    private sealed class BoundedOutput(int limit)
    {
        private readonly StringBuilder _text = new();
        private long _dropped;

        public bool Truncated => Interlocked.Read(ref _dropped) > 0;

        public async Task PumpAsync(StreamReader reader)
        {
            var buffer = new char[4096];
            int read;
            while ((read = await reader.ReadAsync(buffer)) > 0)
            {
                lock (_text)
                {
                    var room = Math.Max(0, limit - _text.Length);
                    _text.Append(buffer, 0, Math.Min(room, read));
                    _dropped += read - Math.Min(room, read);
                }
            }
        }

        public override string ToString()
        {
            lock (_text)
            {
                return _dropped > 0 ? _text + $"\n[output truncated: {_dropped} more characters]" : _text.ToString();
            }
        }
    }
}
