using System.Text.Json.Nodes;

namespace Baton.Runs.Adapters;

/// <summary>Everything an adapter needs to build one CLI invocation of a run.</summary>
public sealed record CliLaunch(
    string RunId,
    string Prompt,
    string? ResumeSessionId,
    string Model,
    string Instructions,
    string AllowedTools,
    int MaxTurns,
    JsonObject ProviderConfig,
    string WorkingDirectory,
    IReadOnlyList<string> ExtraDirectories,
    string RunDirectory,
    string HookSettingsPath);

public sealed record CliCommand(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment);

/// <summary>One event an adapter read from the CLI's output.</summary>
public sealed record AdapterEvent(string EventType, JsonObject Payload);

/// <summary>Turns one CLI's command line and output into Baton's run events.</summary>
public interface ICliAdapter
{
    string CliName { get; }

    /// <summary>Whether the CLI calls Baton's hook endpoint (a hooks settings file is written for it).</summary>
    bool UsesHooks { get; }

    CliCommand BuildCommand(CliLaunch launch);

    /// <summary>Whether the CLI has an interactive UI that can resume a session (<see cref="BuildInteractiveCommand"/>).</summary>
    bool CanResumeInteractively { get; }

    /// <summary>
    /// The CLI's own interactive UI resuming <see cref="CliLaunch.ResumeSessionId"/>, for a person to take
    /// over a paused run in its terminal.
    /// </summary>
    CliCommand BuildInteractiveCommand(CliLaunch launch);

    /// <summary>A parser for one invocation's output (adapters keep per-invocation state in it).</summary>
    ICliOutputParser CreateParser();
}

public interface ICliOutputParser
{
    /// <summary>Events for one complete output line (without its line terminator).</summary>
    IEnumerable<AdapterEvent> ParseLine(string line);
}

public sealed class CliAdapters(IEnumerable<ICliAdapter> adapters)
{
    private readonly Dictionary<string, ICliAdapter> _byName = adapters.ToDictionary(a => a.CliName, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public ICliAdapter? Find(string cliName) => _byName.GetValueOrDefault(cliName);
}

internal static class Json
{
    public static JsonObject? TryParseObject(string line)
    {
        var trimmed = line.Trim();
        if (trimmed.Length < 2 || trimmed[0] != '{')
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(trimmed) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public static string? String(JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static long Long(JsonNode? node, string name)
    {
        if (node is JsonObject o && o[name] is JsonValue v)
        {
            if (v.TryGetValue<long>(out var l))
            {
                return l;
            }
            if (v.TryGetValue<double>(out var d))
            {
                return (long)d;
            }
        }
        return 0;
    }

    public static double Double(JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.TryGetValue<double>(out var d) ? d : 0;

    public static Dictionary<string, string> StringMap(JsonNode? node)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject o)
        {
            foreach (var (key, value) in o)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var s))
                {
                    map[key] = s;
                }
                else if (value is not null)
                {
                    map[key] = value.ToJsonString().Trim('"');
                }
            }
        }
        return map;
    }
}
