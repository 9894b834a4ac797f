using System.Diagnostics;

namespace Baton.Testing;

/// <summary>
/// Runs the real git CLI for test fixtures, with a fixed identity and no user or system
/// configuration; a failure throws with git's own message, a hang is killed after a timeout.
/// </summary>
public static class GitProcess
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static string Run(string workingDirectory, params string[] arguments) => Run(workingDirectory, arguments, input: null);

    public static string Run(string workingDirectory, IReadOnlyList<string> arguments, Action<StreamWriter>? input)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["GIT_AUTHOR_NAME"] = "test";
        start.Environment["GIT_AUTHOR_EMAIL"] = "test@example.com";
        start.Environment["GIT_COMMITTER_NAME"] = "test";
        start.Environment["GIT_COMMITTER_EMAIL"] = "test@example.com";
        using var process = Process.Start(start)!;
        // Both pipes are drained concurrently so a chatty git cannot block on a full pipe.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            using var stdin = process.StandardInput;
            stdin.NewLine = "\n";
            input(stdin);
        }
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"git {string.Join(' ', arguments)} did not finish in {Timeout.TotalSeconds:0} s in {workingDirectory}");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed in {workingDirectory}: {error.Result}");
        }
        return output.Result;
    }

    /// <summary>
    /// A repository at <paramref name="path"/> on <c>main</c> with one commit (README.md), optionally with
    /// a bare repository as <c>origin</c> (at <paramref name="bareRemote"/>) that <c>main</c> is pushed to.
    /// </summary>
    public static string CreateRepo(string path, string? readme = null, string? bareRemote = null)
    {
        Directory.CreateDirectory(path);
        Run(path, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(path, "README.md"), readme ?? "# test repo\n");
        Run(path, "add", "-A");
        Run(path, "commit", "-q", "-m", "initial");
        if (bareRemote is not null)
        {
            Directory.CreateDirectory(bareRemote);
            Run(bareRemote, "init", "-q", "--bare", "-b", "main");
            Run(path, "remote", "add", "origin", bareRemote);
            Run(path, "push", "-q", "-u", "origin", "main");
        }
        return path;
    }

    public static void Commit(string dir, string file, string content, string message)
    {
        var path = Path.Combine(dir, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        Run(dir, "add", "-A");
        Run(dir, "commit", "-q", "-m", message);
    }

    public static string Head(string dir, string rev = "HEAD") => Run(dir, "rev-parse", rev).Trim();
}
