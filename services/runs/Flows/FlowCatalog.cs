using System.Text.Json.Nodes;

namespace Baton.Runs.Flows;

public enum FieldType
{
    String,
    Bool,
    Int,
}

public sealed record ActivityField(string Key, string Label, FieldType Type, bool Required);

public sealed record ActivityDefinition(string Id, string Label, string Description, IReadOnlyList<ActivityField> Fields);

/// <summary>The activities and event types of NOTES §1.5, as <c>/api/flow/activities</c> and <c>/api/flow/event-types</c> list them.</summary>
public static class FlowCatalog
{
    public const string ToastNotification = "toast_notification";
    public const string PostWebhook = "post_webhook";
    public const string SendToTerminal = "send_to_terminal";
    public const string SpawnAgentSession = "spawn_agent_session";

    public static readonly IReadOnlyList<string> EventTypes =
    [
        "file-change", "git-branch", "git-commit", "plan-new", "plan-update", "work-start", "work-progress", "work-finish",
        "agent-turn-complete", "prompt-voice", "prompt-text",
    ];

    /// <summary>Event types that come from <c>POST /api/sessions/{id}/notify</c>: their only <c>where</c> key is <c>session.id</c>.</summary>
    public static readonly IReadOnlySet<string> NotifyEventTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "plan-new", "plan-update", "work-start", "work-progress", "work-finish", "agent-turn-complete", "prompt-voice", "prompt-text",
    };

    /// <summary>Event types produced by the file and git watchers: a flow on one of them keeps the watchers running.</summary>
    public static readonly IReadOnlySet<string> WatcherEventTypes = new HashSet<string>(StringComparer.Ordinal) { "file-change", "git-branch", "git-commit" };

    public static readonly IReadOnlyList<ActivityDefinition> Activities =
    [
        new(ToastNotification, "Toast notification", "Shows a notification on /api/notifications/stream.",
        [
            new("level", "Level", FieldType.String, true),
            new("message_template", "Message template", FieldType.String, true),
        ]),
        new(PostWebhook, "Post webhook", "POSTs the event (or a rendered body) to a URL, with retries.",
        [
            new("url", "URL", FieldType.String, true),
            new("headers_json", "Headers (JSON object)", FieldType.String, false),
            new("body_template", "Body template", FieldType.String, false),
        ]),
        new(SendToTerminal, "Send to terminal", "Types a rendered message into an agent session.",
        [
            new("target_session_id", "Target session id", FieldType.String, false),
            new("target_agent_name", "Target agent name", FieldType.String, false),
            new("include_terminal_output", "Include terminal output", FieldType.Bool, false),
            new("output_tail_lines", "Output tail lines", FieldType.Int, false),
            new("message_template", "Message template", FieldType.String, true),
        ]),
        new(SpawnAgentSession, "Spawn agent session", "Starts a session of an agent (or reuses its running one) and sends it a message.",
        [
            new("agent_id", "Agent id", FieldType.String, true),
            new("reuse_if_running", "Reuse if running", FieldType.Bool, false),
            new("title_template", "Title template", FieldType.String, false),
            new("message_template", "Message template", FieldType.String, false),
        ]),
    ];

    public static ActivityDefinition? Find(string id) => Activities.FirstOrDefault(a => a.Id == id);

    public static JsonArray ActivitiesJson() => new([.. Activities.Select(a => (JsonNode)new JsonObject
    {
        ["id"] = a.Id,
        ["label"] = a.Label,
        ["description"] = a.Description,
        ["fields"] = new JsonArray([.. a.Fields.Select(f => (JsonNode)new JsonObject
        {
            ["key"] = f.Key,
            ["label"] = f.Label,
            ["type"] = f.Type.ToString().ToLowerInvariant(),
            ["required"] = f.Required,
        })]),
    })]);
}
