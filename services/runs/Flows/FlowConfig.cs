using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Baton.Runs.Flows;

public sealed record FlowTrigger(string Id, string Label, string EventType, IReadOnlyDictionary<string, string> Where);

/// <summary>One activity bound to a trigger; <see cref="Config"/> values are strings, booleans or integers.</summary>
public sealed record FlowBinding(string ActivityId, IReadOnlyDictionary<string, JsonNode> Config)
{
    public string? String(string key) => Config.TryGetValue(key, out var v) && v is JsonValue s && s.TryGetValue<string>(out var text) ? text : null;

    public bool Bool(string key) => Config.TryGetValue(key, out var v) && v is JsonValue b && b.TryGetValue<bool>(out var flag) && flag;

    public int? Int(string key) => Config.TryGetValue(key, out var v) && v is JsonValue i && i.TryGetValue<long>(out var number) ? (int)Math.Clamp(number, int.MinValue, int.MaxValue) : null;
}

public sealed record FlowDefinition(FlowTrigger Trigger, IReadOnlyList<FlowBinding> Bindings);

/// <summary>The whole flow configuration (NOTES §1.5).</summary>
public sealed record FlowConfig(int Version, IReadOnlyList<FlowDefinition> Flows)
{
    public static readonly FlowConfig Empty = new(1, []);
}

/// <summary>A configuration that cannot be accepted: 400 (shape, schema) or 409 (semantic conflicts), as the import policy says.</summary>
public sealed class FlowConfigException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static FlowConfigException BadRequest(string message) => new(400, message);

    public static FlowConfigException Conflict(string message) => new(409, message);
}

/// <summary>
/// Reads the JSON form (<c>{"version","triggers","bindings_by_trigger_id"}</c>) and the YAML bundle
/// (<c>{version, flows:[{id,label,event_type,where,bindings}]}</c>) strictly (unknown keys and wrong
/// types are 400), then checks what makes a configuration conflict (409).
/// </summary>
public static class FlowConfigSchema
{
    private const int MaxFlows = 1000;
    private const int MaxText = 64 * 1024;

    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    /// <summary>File names: lower-cased, everything outside <c>[a-z0-9_-]</c> becomes <c>-</c>.</summary>
    public static string NormalizeId(string id)
    {
        var builder = new StringBuilder(id.Length);
        foreach (var c in id.ToLowerInvariant())
        {
            builder.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' ? c : '-');
        }
        return builder.ToString();
    }

    public static FlowConfig ParseJson(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: StrictJson);
        }
        catch (JsonException ex)
        {
            throw FlowConfigException.BadRequest($"invalid JSON: {ex.Message}");
        }
        if (root is not JsonObject obj)
        {
            throw FlowConfigException.BadRequest("the flow configuration must be a JSON object");
        }
        AllowOnly(obj, "config", "version", "triggers", "bindings_by_trigger_id", "storage_path");
        var version = ReadVersion(obj["version"]);
        var triggersNode = obj["triggers"];
        if (triggersNode is not (null or JsonArray))
        {
            throw FlowConfigException.BadRequest("triggers must be an array");
        }
        var bindingsNode = obj["bindings_by_trigger_id"];
        if (bindingsNode is not (null or JsonObject))
        {
            throw FlowConfigException.BadRequest("bindings_by_trigger_id must be an object");
        }
        var triggers = (triggersNode as JsonArray ?? []).Select((t, i) => ReadTrigger(t, $"triggers[{i}]")).ToList();
        var byId = bindingsNode as JsonObject ?? [];
        foreach (var (id, _) in byId)
        {
            if (!triggers.Any(t => t.Id == id))
            {
                throw FlowConfigException.BadRequest($"bindings_by_trigger_id has bindings for unknown trigger {Quote(id)}");
            }
        }
        var flows = triggers.Select(t => new FlowDefinition(t, ReadBindings(byId[t.Id], $"bindings_by_trigger_id.{t.Id}"))).ToList();
        return Validate(new FlowConfig(version, flows));
    }

    /// <summary>The YAML bundle of export/import, already turned into a JSON tree by <see cref="YamlTree"/>.</summary>
    public static FlowConfig ParseBundle(JsonNode? root)
    {
        if (root is not JsonObject obj)
        {
            throw FlowConfigException.BadRequest("the flow bundle must be a mapping with version and flows");
        }
        AllowOnly(obj, "bundle", "version", "flows");
        var version = ReadVersion(obj["version"]);
        if (obj["flows"] is not (null or JsonArray))
        {
            throw FlowConfigException.BadRequest("flows must be a list");
        }
        var flows = (obj["flows"] as JsonArray ?? []).Select((f, i) => ParseFlow(f, $"flows[{i}]")).ToList();
        return Validate(new FlowConfig(version, flows));
    }

    /// <summary>One flow: a bundle item, and the content of one <c>&lt;id&gt;.flow.yaml</c> file.</summary>
    public static FlowDefinition ParseFlow(JsonNode? node, string where)
    {
        if (node is not JsonObject flow)
        {
            throw FlowConfigException.BadRequest($"{where} must be a mapping");
        }
        AllowOnly(flow, where, "id", "label", "event_type", "where", "bindings");
        var trigger = ReadTrigger(new JsonObject
        {
            ["id"] = flow["id"]?.DeepClone(),
            ["label"] = flow["label"]?.DeepClone(),
            ["event_type"] = flow["event_type"]?.DeepClone(),
            ["where"] = flow["where"]?.DeepClone(),
        }, where);
        return new FlowDefinition(trigger, ReadBindings(flow["bindings"], $"{where}.bindings"));
    }

    public static JsonObject ToJson(FlowConfig config)
    {
        var bindings = new JsonObject();
        foreach (var flow in config.Flows)
        {
            bindings[flow.Trigger.Id] = new JsonArray([.. flow.Bindings.Select(BindingJson)]);
        }
        return new JsonObject
        {
            ["version"] = config.Version == 0 ? 1 : config.Version,
            ["triggers"] = new JsonArray([.. config.Flows.Select(f => (JsonNode)TriggerJson(f.Trigger))]),
            ["bindings_by_trigger_id"] = bindings,
        };
    }

    /// <summary>A flow as a bundle item / flow file: id, label, event_type, where, bindings.</summary>
    public static JsonObject FlowJson(FlowDefinition flow)
    {
        var trigger = TriggerJson(flow.Trigger);
        trigger["bindings"] = new JsonArray([.. flow.Bindings.Select(BindingJson)]);
        return trigger;
    }

    private static JsonObject TriggerJson(FlowTrigger trigger) => new()
    {
        ["id"] = trigger.Id,
        ["label"] = trigger.Label,
        ["event_type"] = trigger.EventType,
        ["where"] = new JsonObject([.. trigger.Where.Select(w => KeyValuePair.Create(w.Key, (JsonNode?)w.Value))]),
    };

    private static JsonNode BindingJson(FlowBinding binding) => new JsonObject
    {
        ["activity_id"] = binding.ActivityId,
        ["config"] = new JsonObject([.. binding.Config.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value.DeepClone()))]),
    };

    /// <summary>Conflicts (409): duplicate trigger ids (also after normalisation to file names), duplicate activity per trigger, unknown activity.</summary>
    public static FlowConfig Validate(FlowConfig config)
    {
        if (config.Flows.Count > MaxFlows)
        {
            throw FlowConfigException.BadRequest($"at most {MaxFlows} flows");
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var flow in config.Flows)
        {
            var id = flow.Trigger.Id;
            if (!ids.Add(id))
            {
                throw FlowConfigException.Conflict($"duplicate trigger id {Quote(id)}");
            }
            if (files.TryGetValue(NormalizeId(id), out var other))
            {
                throw FlowConfigException.Conflict($"trigger ids {Quote(other)} and {Quote(id)} map to the same file {NormalizeId(id)}.flow.yaml");
            }
            files[NormalizeId(id)] = id;
            var activities = new HashSet<string>(StringComparer.Ordinal);
            foreach (var binding in flow.Bindings)
            {
                var activity = FlowCatalog.Find(binding.ActivityId)
                    ?? throw FlowConfigException.Conflict($"trigger {Quote(id)}: unknown activity {Quote(binding.ActivityId)}");
                if (!activities.Add(binding.ActivityId))
                {
                    throw FlowConfigException.Conflict($"trigger {Quote(id)}: activity {Quote(binding.ActivityId)} is bound twice");
                }
                CheckActivityConfig(id, activity, binding);
            }
        }
        return config;
    }

    private static void CheckActivityConfig(string triggerId, ActivityDefinition activity, FlowBinding binding)
    {
        foreach (var (key, value) in binding.Config)
        {
            var field = activity.Fields.FirstOrDefault(f => f.Key == key)
                ?? throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: {activity.Id} has no field {Quote(key)}");
            var ok = field.Type switch
            {
                FieldType.String => value is JsonValue s && s.GetValueKind() == JsonValueKind.String,
                FieldType.Bool => value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
                FieldType.Int => value is JsonValue i && i.GetValueKind() == JsonValueKind.Number && i.TryGetValue<long>(out _)
                    || value is JsonValue d && d.TryGetValue<double>(out var number) && number == Math.Floor(number) && Math.Abs(number) < int.MaxValue,
                _ => false,
            };
            if (!ok)
            {
                throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: {activity.Id}.{key} must be {(field.Type == FieldType.Int ? "an int" : "a " + field.Type.ToString().ToLowerInvariant())}");
            }
        }
        foreach (var field in activity.Fields.Where(f => f.Required))
        {
            if (!binding.Config.TryGetValue(field.Key, out var value) || value is JsonValue s && s.TryGetValue<string>(out var text) && string.IsNullOrWhiteSpace(text))
            {
                throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: {activity.Id}.{field.Key} is required");
            }
        }
        if (activity.Id == FlowCatalog.PostWebhook)
        {
            var url = binding.String("url")!;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: post_webhook.url must be an http(s) URL");
            }
            if (binding.String("headers_json") is { Length: > 0 } headers)
            {
                try
                {
                    if (JsonNode.Parse(headers, documentOptions: StrictJson) is not JsonObject map || map.Any(h => h.Value is not JsonValue v || v.GetValueKind() != JsonValueKind.String))
                    {
                        throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: post_webhook.headers_json must be a JSON object of strings");
                    }
                }
                catch (JsonException)
                {
                    throw FlowConfigException.BadRequest($"trigger {Quote(triggerId)}: post_webhook.headers_json is not valid JSON");
                }
            }
        }
    }

    private static int ReadVersion(JsonNode? node)
    {
        if (node is null)
        {
            return 1;
        }
        if (node is JsonValue value && value.TryGetValue<long>(out var number) && number is 0 or 1)
        {
            return (int)number;
        }
        if (node is JsonValue d && d.TryGetValue<double>(out var real) && real is 0 or 1)
        {
            return (int)real;
        }
        throw FlowConfigException.BadRequest("version must be 0 or 1");
    }

    private static FlowTrigger ReadTrigger(JsonNode? node, string where)
    {
        if (node is not JsonObject trigger)
        {
            throw FlowConfigException.BadRequest($"{where} must be an object");
        }
        AllowOnly(trigger, where, "id", "label", "event_type", "where");
        var id = RequiredText(trigger["id"], $"{where}.id");
        var label = OptionalText(trigger["label"], $"{where}.label") ?? "";
        var eventType = RequiredText(trigger["event_type"], $"{where}.event_type");
        var conditions = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (trigger["where"])
        {
            case null:
                break;
            case JsonObject map:
                foreach (var (key, value) in map)
                {
                    conditions[key.Trim().ToLowerInvariant()] = value switch
                    {
                        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                        JsonValue v when v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
                        _ => throw FlowConfigException.BadRequest($"{where}.where.{key} must be a string"),
                    };
                }
                break;
            default:
                throw FlowConfigException.BadRequest($"{where}.where must be a map of strings");
        }
        if (FlowCatalog.NotifyEventTypes.Contains(eventType) && conditions.Keys.FirstOrDefault(k => k != "session.id") is { } bad)
        {
            throw FlowConfigException.BadRequest($"{where}.where: notify event type {Quote(eventType)} can only filter on session.id, not {Quote(bad)}");
        }
        return new FlowTrigger(id, label, eventType, conditions);
    }

    private static List<FlowBinding> ReadBindings(JsonNode? node, string where)
    {
        if (node is null)
        {
            return [];
        }
        if (node is not JsonArray array)
        {
            throw FlowConfigException.BadRequest($"{where} must be a list");
        }
        var bindings = new List<FlowBinding>();
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject binding)
            {
                throw FlowConfigException.BadRequest($"{where}[{i}] must be an object");
            }
            AllowOnly(binding, $"{where}[{i}]", "activity_id", "config");
            var activity = RequiredText(binding["activity_id"], $"{where}[{i}].activity_id");
            var config = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
            switch (binding["config"])
            {
                case null:
                    break;
                case JsonObject map:
                    foreach (var (key, value) in map)
                    {
                        if (value is not JsonValue scalar || scalar.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                        {
                            throw FlowConfigException.BadRequest($"{where}[{i}].config.{key} must be a string, bool or int");
                        }
                        if (scalar.GetValueKind() == JsonValueKind.String && scalar.GetValue<string>().Length > MaxText)
                        {
                            throw FlowConfigException.BadRequest($"{where}[{i}].config.{key} is longer than {MaxText} characters");
                        }
                        config[key] = scalar.DeepClone();
                    }
                    break;
                default:
                    throw FlowConfigException.BadRequest($"{where}[{i}].config must be an object");
            }
            bindings.Add(new FlowBinding(activity, config));
        }
        return bindings;
    }

    private static void AllowOnly(JsonObject obj, string where, params string[] keys)
    {
        foreach (var (key, _) in obj)
        {
            if (!keys.Contains(key, StringComparer.Ordinal))
            {
                throw FlowConfigException.BadRequest($"{where}: unknown field {Quote(key)}");
            }
        }
    }

    private static string RequiredText(JsonNode? node, string where) =>
        OptionalText(node, where) is { Length: > 0 } text && !string.IsNullOrWhiteSpace(text) ? text : throw FlowConfigException.BadRequest($"{where} is required");

    private static string? OptionalText(JsonNode? node, string where)
    {
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            var text = value.GetValue<string>();
            if (text.Length > 256 && !where.EndsWith(".label", StringComparison.Ordinal) || text.Length > 1024)
            {
                throw FlowConfigException.BadRequest($"{where} is too long");
            }
            if (text.Any(char.IsControl))
            {
                throw FlowConfigException.BadRequest($"{where} contains control characters");
            }
            return text;
        }
        throw FlowConfigException.BadRequest($"{where} must be a string");
    }

    public static string Quote(string value) => "'" + (value.Length > 40 ? value[..40] + "…" : value) + "'";
}
