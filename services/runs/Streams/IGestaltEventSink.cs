using System.Text.Json.Nodes;

namespace Baton.Runs.Streams;

/// <summary>
/// The 000_* (Gestalt) live streams, by what they carry (NOTES §1.6). Endpoints map onto them:
/// <c>/api/events/stream</c> carries Watcher, Config, Agent and Terminal (filtered by <c>?types=</c>);
/// <c>/api/notifications/stream</c> Notification; <c>/api/agents/events</c> Agent;
/// <c>/api/sessions/events</c> Terminal; <c>/api/config/events</c> Config.
/// </summary>
public enum GestaltStream
{
    /// <summary>File-system and git watcher events: <c>{"type","path","timestamp"}</c>.</summary>
    Watcher,
    /// <summary><c>{"type":"config_&lt;change&gt;","config_type","path","change_type","message","timestamp"}</c>.</summary>
    Config,
    /// <summary><c>{"type":"agent_started|agent_stopped|agent_error","agent_id","agent_name","timestamp","context"}</c>.</summary>
    Agent,
    /// <summary><c>{"type":"terminal_created|terminal_closed|terminal_error|terminal-resized|plan-update|…","session_id","timestamp","data"}</c>.</summary>
    Terminal,
    /// <summary>Toasts and bells for <c>/api/notifications/stream</c>.</summary>
    Notification,
}

/// <summary>
/// Where sessions, the config watcher and flows hand their events for the 000_* streams. The
/// implementation makes each one durable (a monotonically increasing id, so every stream resumes
/// by id) before it goes live; publishing never blocks on a slow viewer.
/// </summary>
public interface IGestaltEventSink
{
    /// <param name="payload">The event object as NOTES §1.6 shapes it; it always has <c>"type"</c>.</param>
    ValueTask PublishAsync(GestaltStream stream, JsonObject payload, CancellationToken cancellationToken = default);
}
