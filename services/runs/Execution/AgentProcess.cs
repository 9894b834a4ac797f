using System.Threading.Channels;

namespace Baton.Runs.Execution;

/// <summary>What the runs service needs to start an agent CLI: the command, its cwd and environment, the terminal size and the raw log file.</summary>
public sealed record AgentProcessOptions(
    string FileName,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    string LogFilePath,
    int Columns = 120,
    int Rows = 30);

/// <summary>A running agent CLI in its own process group (session). Killing it kills the whole group.</summary>
public interface IAgentProcess : IAsyncDisposable
{
    int Pid { get; }

    /// <summary>Every output byte once, in order, for the run's adapter; completes after the process's output ended.</summary>
    ChannelReader<ReadOnlyMemory<byte>> Output { get; }

    /// <summary>The exit code (128 + signal when killed by a signal).</summary>
    Task<int> Exited { get; }

    /// <summary>The shared terminal (ring + log + viewers) when the CLI runs in a PTY; null for pipes.</summary>
    Baton.Pty.TerminalSession? Terminal { get; }

    /// <summary>Bytes written to the raw log so far.</summary>
    long BytesWritten { get; }

    ValueTask WriteInputAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    void Resize(int columns, int rows);

    /// <summary>SIGTERM to the process group, SIGKILL to the group after <paramref name="grace"/>; returns once the leader was reaped.</summary>
    Task TerminateAsync(TimeSpan grace);
}

public interface IAgentProcessLauncher
{
    IAgentProcess Start(AgentProcessOptions options);
}
