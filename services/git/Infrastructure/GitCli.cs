using System.Diagnostics;
using System.Text;

namespace Baton.Git.Infrastructure;

public sealed record GitCliResult(int ExitCode, string StdOut, string StdErr)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>The real <c>git</c> executable, for what libgit2 does unsafely (worktree remove, merge, rebase; PLATFORM-NOTES §4).</summary>
public static class GitCli
{
    public static async Task<GitCliResult> RunAsync(string workingDirectory, IEnumerable<string> arguments, CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["LC_ALL"] = "C";
        start.Environment["GIT_EDITOR"] = "true";
        start.Environment["GIT_AUTHOR_NAME"] = Signatures.Name;
        start.Environment["GIT_AUTHOR_EMAIL"] = Signatures.Email;
        start.Environment["GIT_COMMITTER_NAME"] = Signatures.Name;
        start.Environment["GIT_COMMITTER_EMAIL"] = Signatures.Email;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start git");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new GitCliResult(process.ExitCode, await stdout, await stderr);
    }

    public static async Task<string> RunCheckedAsync(string workingDirectory, IEnumerable<string> arguments, CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var args = arguments.ToList();
        var result = await RunAsync(workingDirectory, args, cancellationToken, environment);
        if (!result.Succeeded)
        {
            throw new GitCommandException($"git {args.FirstOrDefault()} failed: {result.StdErr.Trim()}", result);
        }
        return result.StdOut;
    }
}

public sealed class GitCommandException(string message, GitCliResult result) : Exception(message)
{
    public GitCliResult Result { get; } = result;
}

/// <summary>Who Baton's own commits are by (Abbado: <c>abbado &lt;abbado@localhost&gt;</c>).</summary>
public static class Signatures
{
    public const string Name = "baton";
    public const string Email = "baton@localhost";

    public static LibGit2Sharp.Signature Now() => new(Name, Email, DateTimeOffset.Now);
}
