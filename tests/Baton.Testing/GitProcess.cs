using System.Diagnostics;

namespace Baton.Testing;

/// <summary>Runs the real git CLI for test fixtures, with a fixed identity; a failure throws with git's own message.</summary>
public static class GitProcess
{
    public static string Run(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["GIT_AUTHOR_NAME"] = "test";
        start.Environment["GIT_AUTHOR_EMAIL"] = "test@example.com";
        start.Environment["GIT_COMMITTER_NAME"] = "test";
        start.Environment["GIT_COMMITTER_EMAIL"] = "test@example.com";
        using var process = Process.Start(start)!;
        // Both pipes are drained concurrently so a chatty git cannot block on a full stderr.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed in {workingDirectory}: {error}");
        }
        return output.Result;
    }
}
