using System.Text.Json;
using Baton.Chat.Sandbox;
using Microsoft.Extensions.AI;

namespace Baton.Chat.Tools;

/// <summary>What a tool call runs against: the chat's canonical workspace and the sandbox settings of the moment.</summary>
public sealed record ToolContext(string ChatId, string Workspace, SandboxSettings Sandbox);

public sealed record ToolOutcome(string Content, bool IsError)
{
    public static ToolOutcome Error(string message) => new(message, true);
}

/// <summary>One tool the agent may call.</summary>
public interface IAgentTool
{
    string Name { get; }
    string Description { get; }
    /// <summary>The JSON schema of the tool's arguments.</summary>
    JsonElement Schema { get; }
    /// <summary>Tools that only read (allowed in readonly mode).</summary>
    bool ReadsOnly { get; }
    Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken);
}

/// <summary>
/// A source of extra tools. The integrations service's operations (its MCP tools) plug in here as
/// tools named <c>&lt;integration&gt;__&lt;operation&gt;</c>, governed by the same permissions.
/// </summary>
public interface IToolProvider
{
    IEnumerable<IAgentTool> Tools { get; }
}

/// <summary>The built-in tools plus whatever the registered providers offer, by name.</summary>
public sealed class ToolRegistry
{
    public static readonly string[] BuiltinNames = ["bash", "edit", "glob", "grep", "read", "write"];
    private readonly IEnumerable<IToolProvider> _providers;
    private readonly Dictionary<string, IAgentTool> _builtins;

    public ToolRegistry(CommandRunner runner, ChatOptions options, IEnumerable<IToolProvider> providers)
    {
        _providers = providers;
        IAgentTool[] builtins = [new ReadTool(options), new WriteTool(), new EditTool(), new BashTool(runner), new GlobTool(), new GrepTool(options)];
        _builtins = builtins.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<IAgentTool> All()
    {
        var tools = new List<IAgentTool>(_builtins.Values.OrderBy(t => t.Name, StringComparer.Ordinal));
        foreach (var provider in _providers)
        {
            tools.AddRange(provider.Tools.Where(t => t.Name.Contains("__", StringComparison.Ordinal) && !_builtins.ContainsKey(t.Name)));
        }
        return tools;
    }

    public IAgentTool? Find(string name) => _builtins.TryGetValue(name, out var tool) ? tool : All().FirstOrDefault(t => t.Name == name);

    public bool IsKnown(string name) => Find(name) is not null;

    public static AITool Declare(IAgentTool tool) => AIFunctionFactory.CreateDeclaration(tool.Name, tool.Description, tool.Schema);
}

internal static class Args
{
    public static string? String(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static int? Int(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : null;

    public static bool Bool(JsonElement args, string name) =>
        args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    public static JsonElement Schema(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
