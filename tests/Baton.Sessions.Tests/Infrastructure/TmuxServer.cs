using System.Diagnostics;

namespace Baton.Sessions.Tests.Infrastructure;

/// <summary>A tmux server of the test's own (a private TMUX_TMPDIR), so tests never touch the user's; killed on dispose.</summary>
public sealed class TmuxServer : IDisposable
{
    private readonly TempDir _dir = new("bt-tmux-");

    public string TmpDir => _dir.Path;

    /// <summary>Runs tmux against this server; returns stdout (throws on failure).</summary>
    public string Run(params string[] args)
    {
        var (code, output, error) = TryRun(args);
        return code == 0 ? output : throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({code}): {error}");
    }

    public (int Code, string Output, string Error) TryRun(params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TMUX_TMPDIR"] = TmpDir;
        start.Environment.Remove("TMUX");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error);
    }

    public static bool Installed
    {
        get
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo("tmux", "-V") { RedirectStandardOutput = true, UseShellExecute = false })!;
                process.WaitForExit();
                return process.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }
    }

    public void Dispose()
    {
        TryRun("kill-server");
        _dir.Dispose();
    }
}
