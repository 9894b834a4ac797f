using System.Text.Json.Nodes;

namespace Baton.Runs.Adapters;

/// <summary>
/// <c>codex exec --json</c>: thread.started → session.init, agent_message items → agent.message,
/// command_execution items → agent.tool_call / agent.tool_result,
/// "Reconnecting..." error lines → agent.api_retry, turn.completed usage / turn.failed → run.result. Resume: <c>codex exec --json resume &lt;thread id&gt; &lt;message&gt;</c>.
/// </summary>
public sealed class CodexAdapter(RunsConfiguration configuration) : ICliAdapter
{
    public string CliName => "codex";

    public bool UsesHooks => false;

    public CliCommand BuildCommand(CliLaunch launch)
    {
        var args = new List<string> { "exec", "--json", "--skip-git-repo-check", "--sandbox", SandboxMode(launch) };
        if (!string.IsNullOrWhiteSpace(launch.Model))
        {
            args.AddRange(["--model", launch.Model]);
        }
        foreach (var directory in launch.ExtraDirectories)
        {
            args.AddRange(["--add-dir", directory]);
        }
        if (launch.ResumeSessionId is not null)
        {
            args.AddRange(["resume", launch.ResumeSessionId]);
        }
        var prompt = string.IsNullOrWhiteSpace(launch.Instructions) || launch.ResumeSessionId is not null
            ? launch.Prompt
            : launch.Instructions + "\n\n" + launch.Prompt;
        args.Add(prompt);
        var command = Json.String(launch.ProviderConfig, "command") ?? configuration.CodexCommand;
        return new CliCommand(command, args, Json.StringMap(launch.ProviderConfig["env"]));
    }

    public bool CanResumeInteractively => true;

    /// <summary><c>codex [--model m] resume &lt;thread id&gt;</c>: Codex's terminal UI on the resumed thread.</summary>
    public CliCommand BuildInteractiveCommand(CliLaunch launch)
    {
        var session = launch.ResumeSessionId ?? throw new InvalidOperationException("codex resume needs the run's session id");
        List<string> args = ["--sandbox", SandboxMode(launch)];
        if (!string.IsNullOrWhiteSpace(launch.Model))
        {
            args.AddRange(["--model", launch.Model]);
        }
        args.AddRange(["resume", session]);
        var command = Json.String(launch.ProviderConfig, "command") ?? configuration.CodexCommand;
        return new CliCommand(command, args, Json.StringMap(launch.ProviderConfig["env"]));
    }

    /// <summary>
    /// codex runs the model's shell commands read-only unless told otherwise, so an agent could not edit
    /// its worktree: Baton asks for workspace-write (the worktree and <c>--add-dir</c> folders) unless the
    /// agent's <c>provider_config.sandbox_mode</c> says otherwise.
    /// </summary>
    private static string SandboxMode(CliLaunch launch)
    {
        var mode = Json.String(launch.ProviderConfig, "sandbox_mode") ?? "workspace-write";
        return SandboxModes.Contains(mode)
            ? mode
            : throw new InvalidOperationException($"provider_config.sandbox_mode must be one of {string.Join(", ", SandboxModes)}, not \"{mode}\"");
    }

    private static readonly string[] SandboxModes = ["read-only", "workspace-write", "danger-full-access"];

    public ICliOutputParser CreateParser() => new Parser();

    private sealed class Parser : ICliOutputParser
    {
        private string? _threadId;
        private string? _lastError;

        public IEnumerable<AdapterEvent> ParseLine(string line)
        {
            var json = Json.TryParseObject(line);
            if (json is null)
            {
                yield break;
            }
            switch (Json.String(json, "type"))
            {
                case "thread.started":
                    _threadId = Json.String(json, "thread_id");
                    yield return new AdapterEvent("session.init", new JsonObject { ["session_id"] = _threadId, ["cli_version"] = null, ["model"] = null });
                    break;
                case "item.started" when Json.String(json["item"], "type") == "command_execution":
                    yield return new AdapterEvent("agent.tool_call", new JsonObject
                    {
                        ["tool"] = "shell",
                        ["input"] = new JsonObject { ["command"] = Json.String(json["item"], "command") },
                        ["tool_use_id"] = Json.String(json["item"], "id"),
                    });
                    break;
                case "item.completed" when Json.String(json["item"], "type") == "command_execution":
                    yield return new AdapterEvent("agent.tool_result", new JsonObject
                    {
                        ["tool"] = "shell",
                        ["output"] = Json.String(json["item"], "aggregated_output"),
                        ["exit_code"] = json["item"]!["exit_code"]?.DeepClone(),
                        ["status"] = Json.String(json["item"], "status"),
                        ["tool_use_id"] = Json.String(json["item"], "id"),
                    });
                    break;
                case "item.completed" when Json.String(json["item"], "type") == "agent_message":
                    yield return new AdapterEvent("agent.message", new JsonObject { ["text"] = Json.String(json["item"], "text") });
                    break;
                case "turn.completed":
                    var usage = json["usage"];
                    yield return new AdapterEvent("run.result", new JsonObject
                    {
                        ["tokens_in"] = Json.Long(usage, "input_tokens"),
                        ["tokens_out"] = Json.Long(usage, "output_tokens"),
                        ["cost_usd"] = 0.0,
                        ["session_id"] = _threadId,
                        ["is_error"] = false,
                    });
                    break;
                case "error":
                    // codex 0.169 prints "error" lines for retries it is still making ("Reconnecting... 1/5 (...)")
                    // and once more for the final error just before turn.failed: neither ends the run.
                    var message = Json.String(json, "message");
                    if (message?.StartsWith("Reconnecting", StringComparison.Ordinal) == true)
                    {
                        yield return new AdapterEvent("agent.api_retry", new JsonObject { ["error"] = message });
                    }
                    else
                    {
                        _lastError = message;
                    }
                    break;
                case "turn.failed":
                    yield return new AdapterEvent("run.result", new JsonObject
                    {
                        ["tokens_in"] = 0,
                        ["tokens_out"] = 0,
                        ["cost_usd"] = 0.0,
                        ["session_id"] = _threadId,
                        ["is_error"] = true,
                        ["result"] = Json.String(json["error"], "message") ?? _lastError,
                    });
                    break;
            }
        }
    }
}
