using System.Diagnostics;

namespace Baton.Git.Tests;

/// <summary>Real repositories in temp folders, driven with the git CLI.</summary>
public static class TestGit
{
    public static string Run(string dir, params string[] args)
        => Baton.Testing.GitProcess.Run(dir, args);

    /// <summary>A repo on <c>main</c> with one commit (README.md), optionally with a bare remote as origin.</summary>
    public static string CreateRepo(string parent, string name, bool withRemote = false)
    {
        var dir = Path.Combine(parent, name);
        Directory.CreateDirectory(dir);
        Run(dir, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(dir, "README.md"), "# " + name + "\nline 2\nline 3\n");
        Run(dir, "add", "-A");
        Run(dir, "commit", "-q", "-m", "initial");
        if (withRemote)
        {
            var bare = Path.Combine(parent, "remotes", "acme", name + ".git");
            Directory.CreateDirectory(bare);
            Run(bare, "init", "-q", "--bare", "-b", "main");
            Run(dir, "remote", "add", "origin", bare);
            Run(dir, "push", "-q", "-u", "origin", "main");
        }
        return dir;
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

    public static string Status(string dir) => Run(dir, "status", "--porcelain");

    /// <summary>One commit on <paramref name="branch"/> with many files, written fast with <c>git fast-import</c>.</summary>
    public static void FastImport(string dir, string branch, IEnumerable<(string Path, string Content)> files)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("fast-import");
        start.ArgumentList.Add("--quiet");
        using var p = Process.Start(start)!;
        var parent = Head(dir, branch);
        var input = p.StandardInput;
        input.NewLine = "\n";
        input.WriteLine($"commit refs/heads/{branch}");
        input.WriteLine("committer test <test@example.com> 1700000000 +0000");
        input.WriteLine("data 4");
        input.WriteLine("bulk");
        input.WriteLine($"from {parent}");
        foreach (var (path, content) in files)
        {
            var bytes = System.Text.Encoding.UTF8.GetByteCount(content);
            input.WriteLine($"M 100644 inline {path}");
            input.WriteLine($"data {bytes}");
            input.Write(content);
            input.WriteLine();
        }
        input.WriteLine();
        input.Close();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException("fast-import failed: " + err);
        }
        Run(dir, "reset", "-q", "--hard", branch);
    }
}
