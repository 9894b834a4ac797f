using System.Text.Json;
using System.Text.Json.Serialization;
using Baton.Chat.Api;
using Baton.Chat.Storage;
using Baton.Chat.Tools;
using Baton.Contracts.Chat.V1;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Chat.Permissions;

public enum ToolLevel
{
    Allow,
    Ask,
    Deny,
}

/// <summary>NOTES §2.4 permissions: a mode and per-tool overrides.</summary>
public sealed record PermissionSettings(
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("tool_overrides")] Dictionary<string, string> ToolOverrides)
{
    public static readonly string[] Modes = ["interactive", "autonomous", "readonly"];
    public static readonly string[] Levels = ["allow", "ask", "deny"];

    /// <summary>interactive asks for everything, autonomous allows everything, readonly denies all but the reading tools; an override wins.</summary>
    public ToolLevel LevelOf(IAgentTool tool)
    {
        if (ToolOverrides.TryGetValue(tool.Name, out var level))
        {
            return Parse(level);
        }
        return Mode switch
        {
            "autonomous" => ToolLevel.Allow,
            "readonly" => tool.ReadsOnly ? ToolLevel.Allow : ToolLevel.Deny,
            _ => ToolLevel.Ask,
        };
    }

    private static ToolLevel Parse(string level) => level switch
    {
        "allow" => ToolLevel.Allow,
        "deny" => ToolLevel.Deny,
        _ => ToolLevel.Ask,
    };

    public Contracts.Chat.V1.Permissions ToMessage()
    {
        var message = new Contracts.Chat.V1.Permissions { Mode = Mode };
        message.ToolOverrides.Add(ToolOverrides);
        return message;
    }
}

public sealed class PermissionStore(ChatStore store, ToolRegistry tools)
{
    private const string Key = "permissions";

    public async Task<PermissionSettings> GetAsync(CancellationToken cancellationToken)
    {
        var json = await store.GetSettingAsync(Key, cancellationToken);
        return (json is null ? null : JsonSerializer.Deserialize<PermissionSettings>(json)) ?? new PermissionSettings("interactive", []);
    }

    public async Task<PermissionSettings> UpdateAsync(UpdatePermissionsRequest request, CancellationToken cancellationToken)
    {
        var current = await GetAsync(cancellationToken);
        var mode = request.Mode ?? current.Mode;
        if (!PermissionSettings.Modes.Contains(mode))
        {
            throw Check.Invalid($"mode must be one of {string.Join(", ", PermissionSettings.Modes)}: {Check.Quote(mode)}");
        }
        var overrides = current.ToolOverrides;
        if (request.ToolOverrides is { } incoming)
        {
            overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (tool, value) in incoming.Fields)
            {
                if (!tools.IsKnown(tool))
                {
                    throw Check.Invalid($"tool_overrides names an unknown tool: {Check.Quote(tool)} (see GET /api/permissions/tools)");
                }
                if (value.KindCase != Value.KindOneofCase.StringValue || !PermissionSettings.Levels.Contains(value.StringValue))
                {
                    throw Check.Invalid($"tool_overrides.{tool} must be one of allow, ask, deny: {(value.KindCase == Value.KindOneofCase.StringValue ? Check.Quote(value.StringValue) : value.KindCase.ToString().Replace("Value", "", StringComparison.Ordinal).ToLowerInvariant())}");
                }
                overrides[tool] = value.StringValue;
            }
        }
        var next = new PermissionSettings(mode, overrides);
        await store.SetSettingAsync(Key, JsonSerializer.Serialize(next), cancellationToken);
        return next;
    }
}
