namespace Baton.Runs.Tests.Infrastructure;

/// <summary>Runs the real git CLI.</summary>
public static class GitCli
{
    public static string Run(string workingDirectory, params string[] arguments)
        => Baton.Testing.GitProcess.Run(workingDirectory, arguments).Trim();

    /// <summary>A new repository with one commit.</summary>
    public static string CreateRepo(string path)
    {
        Directory.CreateDirectory(path);
        Run(path, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(path, "README.md"), "# test repo\n");
        Run(path, "add", "-A");
        Run(path, "commit", "-q", "-m", "initial");
        return path;
    }
}
