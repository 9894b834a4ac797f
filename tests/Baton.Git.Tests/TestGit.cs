using Baton.Testing;

namespace Baton.Git.Tests;

/// <summary>Real repositories in temp folders, driven with the git CLI.</summary>
public static class TestGit
{
    public static string Run(string dir, params string[] args) => GitProcess.Run(dir, args);

    /// <summary>A repo <paramref name="name"/> under <paramref name="parent"/> on <c>main</c> with one commit (README.md), optionally with a bare remote as origin under <c>parent/remotes/acme</c>.</summary>
    public static string CreateRepo(string parent, string name, bool withRemote = false) =>
        GitProcess.CreateRepo(Path.Combine(parent, name), "# " + name + "\nline 2\nline 3\n",
            withRemote ? Path.Combine(parent, "remotes", "acme", name + ".git") : null);

    public static void Commit(string dir, string file, string content, string message) => GitProcess.Commit(dir, file, content, message);

    public static string Head(string dir, string rev = "HEAD") => GitProcess.Head(dir, rev);

    public static string Status(string dir) => Run(dir, "status", "--porcelain");

    /// <summary>One commit on <paramref name="branch"/> with many files, written fast with <c>git fast-import</c>.</summary>
    public static void FastImport(string dir, string branch, IEnumerable<(string Path, string Content)> files)
    {
        var parent = Head(dir, branch);
        GitProcess.Run(dir, ["fast-import", "--quiet"], input =>
        {
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
        });
        Run(dir, "reset", "-q", "--hard", branch);
    }
}
