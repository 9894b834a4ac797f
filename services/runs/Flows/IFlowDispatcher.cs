using System.Text.Json.Nodes;

namespace Baton.Runs.Flows;

/// <summary>
/// Hands an event to the flow engine (NOTES §1.5): <c>POST /api/sessions/{id}/notify</c> calls it with
/// the validated notify envelope; the engine also listens to the event bus on its own.
/// </summary>
public interface IFlowDispatcher
{
    /// <param name="eventType">The normalised flow event type (<c>plan-new</c>, <c>agent-turn-complete</c> …).</param>
    /// <param name="fields">Normalised event fields (<c>session.id</c>, <c>notify.&lt;key&gt;</c> …) for <c>where</c> and templates.</param>
    /// <param name="eventId">Deduplication key; the same id is dispatched once.</param>
    ValueTask DispatchAsync(string eventType, JsonObject fields, string? eventId, CancellationToken cancellationToken = default);
}
