using System.Text.Json.Nodes;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>Reading a run's events (<c>GET /api/runs/{id}/events</c>) by type.</summary>
public static class RunEvents
{
    public static IEnumerable<JsonObject> Payloads(JsonArray events, string eventType) =>
        events.Where(e => (string?)e!["event_type"] == eventType).Select(e => e!["payload"]!.AsObject());

    /// <summary>The payload of the one event of <paramref name="eventType"/>; fails the test, listing the events, otherwise.</summary>
    public static JsonObject Single(JsonArray events, string eventType)
    {
        var matches = Payloads(events, eventType).ToList();
        Assert.True(matches.Count == 1, $"expected one {eventType} event, got {matches.Count}: {events.ToJsonString()}");
        return matches[0];
    }
}
