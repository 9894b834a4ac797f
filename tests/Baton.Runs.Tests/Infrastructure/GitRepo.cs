namespace Baton.Runs.Tests.Infrastructure;

/// <summary>Runs the real git CLI.</summary>
public static class GitCli
{
    public static string Run(string workingDirectory, params string[] arguments)
        => Baton.Testing.GitProcess.Run(workingDirectory, arguments).Trim();
}
