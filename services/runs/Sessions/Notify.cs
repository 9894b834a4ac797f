using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Baton.Runs.Sessions;

/// <summary>What <c>POST /api/sessions/{id}/notify</c> derives from a notify envelope (NOTES §1.4, §1.5).</summary>
public static class Notify
{
    private static readonly HashSet<string> Reserved = ["type", "occurred_at", "timestamp", "agent_id", "agent_name", "agent.id", "agent.name"];

    /// <summary>The flow event type of a notify <c>payload.type</c> (NOTES §1.5 mapping).</summary>
    public static string CanonicalEventType(string payloadType)
    {
        var type = payloadType.Trim().ToLowerInvariant();
        return type switch
        {
            "new-plan" or "plan-new" => "plan-new",
            "progress" or "plan-update" => "plan-update",
            _ when type.StartsWith("plan-", StringComparison.Ordinal) => "plan-update",
            "start" or "work-start" => "work-start",
            "finish" or "work-finish" => "work-finish",
            "commit" or "git-commit" => "git-commit",
            _ when type.StartsWith("agent-turn", StringComparison.Ordinal) => "agent-turn-complete",
            _ when type.StartsWith("prompt-voice", StringComparison.Ordinal) => "prompt-voice",
            _ when type.StartsWith("prompt-text", StringComparison.Ordinal) => "prompt-text",
            _ when type.StartsWith("work-progress", StringComparison.Ordinal) => "work-progress",
            _ => "agent-turn-complete",
        };
    }

    /// <summary>Normalised fields for <c>where</c> and templates: <c>type</c>, <c>timestamp</c>, <c>session_id</c>,
    /// <c>session.id</c>, <c>notify.type</c>, <c>notify.event_id</c>, and each payload key as <c>notify.&lt;key&gt;</c> and <c>&lt;key&gt;</c>.</summary>
    public static JsonObject Fields(string sessionId, string? eventId, string payloadType, DateTimeOffset occurredAt, JsonObject payload)
    {
        var fields = new JsonObject
        {
            ["type"] = CanonicalEventType(payloadType),
            ["timestamp"] = occurredAt.UtcDateTime.ToString("O"),
            ["session_id"] = sessionId,
            ["session.id"] = sessionId,
            ["notify.type"] = payloadType,
        };
        if (!string.IsNullOrWhiteSpace(eventId))
        {
            fields["notify.event_id"] = eventId.Trim();
            fields["event_id"] = eventId.Trim();
        }
        foreach (var (key, value) in payload)
        {
            var normalized = key.Trim().ToLowerInvariant();
            if (normalized.Length == 0 || Reserved.Contains(normalized) || Stringify(value) is not { } text)
            {
                continue;
            }
            if (normalized == "last-assistant-message")
            {
                fields.TryAdd(normalized, text);
                continue;
            }
            fields["notify." + normalized] = text;
            fields.TryAdd(normalized, text);
        }
        return fields;
    }

    /// <summary>The progress a <c>progress</c>/<c>plan-update</c> payload reports (normalising it in place), or null without <c>plan_file</c>.</summary>
    public static SessionProgress? NormalizeProgress(JsonObject payload, DateTimeOffset updatedAt)
    {
        if (payload["plan_file"] is not JsonValue planValue || !planValue.TryGetValue<string>(out var planFile) || string.IsNullOrWhiteSpace(planFile))
        {
            return null;
        }
        planFile = Path.GetFileName(planFile.Trim().Replace('\\', '/'));
        payload["plan_file"] = planFile;
        var l1 = HeadingLabel(payload, "l1");
        var l2 = HeadingLabel(payload, "l2");
        var state = payload["task_state"] is JsonValue s && s.TryGetValue<string>(out var st) ? st.Trim() : "";
        if (state.Length > 0)
        {
            payload["task_state"] = state;
        }
        var level = 0;
        if (payload["task_level"] is JsonValue levelValue)
        {
            if (levelValue.TryGetValue<double>(out var number))
            {
                level = (int)number;
                payload["task_level"] = level;
            }
            else if (levelValue.TryGetValue<string>(out var text) && int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
            {
                level = parsed;
                payload["task_level"] = level;
            }
        }
        return new SessionProgress(planFile, l1, l2, level, state, updatedAt);
    }

    private static string HeadingLabel(JsonObject payload, string key)
    {
        if (payload[key] is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            return "";
        }
        var words = text.Trim().TrimStart('*').Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
        if (words.Count > 0 && words[0].ToUpperInvariant() is "TODO" or "WIP" or "DONE")
        {
            words.RemoveAt(0);
        }
        if (words.Count > 0 && words[0].StartsWith("[#", StringComparison.Ordinal) && words[0].EndsWith(']') && words[0].Length >= 4)
        {
            words.RemoveAt(0);
        }
        var label = string.Join(' ', words);
        if (label.Length > 0)
        {
            payload[key] = label;
        }
        return label;
    }

    private static string? Stringify(JsonNode? value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() is { } s && !string.IsNullOrWhiteSpace(s) ? s : null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>() ? "true" : "false",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        JsonObject or JsonArray => value.ToJsonString(),
        _ => null,
    };
}
