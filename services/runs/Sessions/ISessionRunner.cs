namespace Baton.Runs.Sessions;

/// <summary>What runs a session's agent CLI: Baton's own PTY (<c>server</c>) or a tmux window (<c>external</c>).
/// Output goes to the session's <see cref="SessionOutput"/>; <see cref="Exited"/> completes when the process (or
/// window) is gone and its output is drained.</summary>
public interface ISessionRunner : IAsyncDisposable
{
    /// <summary><c>server</c> or <c>external</c>.</summary>
    string Kind { get; }

    /// <summary>The process's exit code, or -1 when it is not known (a tmux window that closed).</summary>
    Task<int> Exited { get; }

    Task WriteAsync(ReadOnlyMemory<byte> input, CancellationToken ct);

    Task ResizeAsync(ushort columns, ushort rows, CancellationToken ct);

    /// <summary>Brings the session's window to the front (tmux <c>select-window</c>); server sessions have none.</summary>
    Task ActivateAsync(CancellationToken ct);

    /// <summary>Ends the process (or closes the window) and waits for <see cref="Exited"/>.</summary>
    Task StopAsync(CancellationToken ct);
}

/// <summary>What the runner needs to start one session.</summary>
public sealed record SessionLaunch(
    string SessionId,
    string Shell,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    ushort Columns,
    ushort Rows);

/// <summary>The tmux window of an external session is gone (closed by the user, or its process exited).</summary>
public sealed class SessionWindowNotFoundException(string message = "session window not found") : Exception(message);

/// <summary>tmux is not installed or its server cannot be reached.</summary>
public sealed class TmuxUnavailableException(string message) : Exception(message);

/// <summary>An operation that only tmux-backed sessions support.</summary>
public sealed class SessionNotTmuxManagedException() : Exception("session is not tmux-managed");
