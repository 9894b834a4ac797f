using System.Text.Json;
using System.Text.Json.Nodes;

namespace Baton.Runs.Hooks;

/// <summary>
/// Writes the Claude Code settings file a run's CLI gets with <c>--settings</c>: every hook event
/// posts its raw JSON to <c>POST {BATON_PUBLIC_URL}/api/runs/{id}/hook</c> with the run's secret,
/// which only the CLI's environment carries (<c>BATON_HOOK_SECRET</c>).
/// </summary>
public static class HookSettingsWriter
{
    public const string SecretHeader = "X-Run-Hook-Secret";
    public const string SecretVariable = "BATON_HOOK_SECRET";

    private static readonly string[] ToolEvents = ["PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "SubagentStart", "SubagentStop"];
    private static readonly string[] OtherEvents = ["UserPromptSubmit", "Stop", "StopFailure", "SessionStart", "SessionEnd", "Notification"];

    public static string HookCommand(string publicUrl, string runId) =>
        $"curl -s -m 10 -X POST '{publicUrl}/api/runs/{runId}/hook' -H 'Content-Type: application/json' " +
        $"-H \"{SecretHeader}: ${SecretVariable}\" --data-binary @-";

    public static async Task<string> WriteClaudeSettingsAsync(string runDirectory, string publicUrl, string runId, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(runDirectory);
        var command = HookCommand(publicUrl, runId);
        var hooks = new JsonObject();
        foreach (var name in ToolEvents)
        {
            hooks[name] = new JsonArray(new JsonObject { ["matcher"] = "*", ["hooks"] = new JsonArray(Command(command)) });
        }
        foreach (var name in OtherEvents)
        {
            hooks[name] = new JsonArray(new JsonObject { ["hooks"] = new JsonArray(Command(command)) });
        }
        var path = Path.Combine(runDirectory, "claude-hooks.json");
        var script = Path.Combine(runDirectory, "hook.sh");
        await File.WriteAllTextAsync(path, new JsonObject { ["hooks"] = hooks }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
        await File.WriteAllTextAsync(script, "#!/bin/sh\n" + command + "\n", cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    private static JsonObject Command(string command) => new() { ["type"] = "command", ["command"] = command, ["timeout"] = 15 };
}
