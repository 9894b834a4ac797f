using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Baton.Runs.Flows;

/// <summary>An event as flows see it: its type, flat normalised fields (<c>path</c>, <c>session.id</c>, <c>notify.x</c> …) and a dedupe id.</summary>
public sealed record FlowEvent(string Type, IReadOnlyDictionary<string, string> Fields, string EventId)
{
    public string? Field(string key) => Fields.TryGetValue(key, out var value) ? value : null;

    public string? SessionId => Field("session.id") ?? Field("session_id");

    /// <summary>Flattens a JSON object: nested objects become dotted keys, arrays and other values their JSON text.</summary>
    public static Dictionary<string, string> Flatten(JsonObject source, string prefix = "")
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        Add(fields, source, prefix);
        return fields;
    }

    private static void Add(Dictionary<string, string> fields, JsonObject source, string prefix)
    {
        foreach (var (key, value) in source)
        {
            var name = prefix + key;
            switch (value)
            {
                case null:
                    break;
                case JsonObject nested:
                    Add(fields, nested, name + ".");
                    break;
                case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                    fields[name] = scalar.GetValue<string>();
                    break;
                default:
                    fields[name] = value.ToJsonString();
                    break;
            }
        }
    }
}

/// <summary>NOTES §1.5 <c>where</c> matching and <c>{{token}}</c> templates.</summary>
public static partial class FlowMatching
{
    public static bool Matches(FlowTrigger trigger, FlowEvent evt)
    {
        if (!string.Equals(trigger.EventType, evt.Type, StringComparison.Ordinal))
        {
            return false;
        }
        foreach (var (key, expected) in trigger.Where)
        {
            if (expected == "*")
            {
                continue;
            }
            switch (key)
            {
                case "session.id" or "session_id":
                    if (evt.SessionId is not { } session || !SessionMatches(expected, session))
                    {
                        return false;
                    }
                    break;
                case "path":
                    if (evt.Field("path") != expected && evt.Field("full_path") != expected)
                    {
                        return false;
                    }
                    break;
                default:
                    if (evt.Field(key) != expected)
                    {
                        return false;
                    }
                    break;
            }
        }
        return true;
    }

    /// <summary><c>"Coder"</c> matches <c>"Coder 1"</c>, <c>"Coder 2"</c>: an agent name matches its numbered sessions.</summary>
    public static bool SessionMatches(string expected, string actual)
    {
        if (string.Equals(expected, actual, StringComparison.Ordinal))
        {
            return true;
        }
        if (!actual.StartsWith(expected, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = actual.AsSpan(expected.Length).TrimStart(' ');
        return rest.Length > 0 && IsDigits(rest);
    }

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Replaces <c>{{token}}</c> with the token's value (unknown tokens become empty).</summary>
    public static string Render(string template, Func<string, string?> lookup) =>
        Token().Replace(template, match => lookup(match.Groups[1].Value) ?? "");

    public static bool Uses(string? template, string token) =>
        template is not null && Token().Matches(template).Any(m => m.Groups[1].Value == token);

    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Token();
}
