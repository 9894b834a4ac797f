namespace Baton.Runs.Sessions;

/// <summary>What flows may do to agent sessions (NOTES §1.5 activities <c>send_to_terminal</c> and <c>spawn_agent_session</c>).</summary>
public interface ISessionControl
{
    /// <summary>Writes text into a session's terminal, as <c>POST /api/sessions/{id}/input</c> does. Throws <see cref="KeyNotFoundException"/> for an unknown session.</summary>
    Task SendInputAsync(string sessionId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken = default);

    /// <summary>The last <paramref name="lines"/> lines of a session's output (<c>{{output_tail}}</c>).</summary>
    Task<IReadOnlyList<string>> OutputTailAsync(string sessionId, int lines, CancellationToken cancellationToken = default);

    /// <summary>The running sessions of an agent (by profile id or name), e.g. to resolve <c>target_agent_name</c>.</summary>
    Task<IReadOnlyList<string>> SessionsOfAgentAsync(string agent, CancellationToken cancellationToken = default);

    /// <summary>Starts a session of an agent (or returns its running one when <paramref name="reuseIfRunning"/>) and returns its id.</summary>
    Task<string> StartSessionAsync(string agent, string? title, bool reuseIfRunning, CancellationToken cancellationToken = default);
}
