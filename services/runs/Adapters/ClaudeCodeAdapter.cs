using System.Text;
using System.Text.Json.Nodes;

namespace Baton.Runs.Adapters;

/// <summary>
/// <c>claude -p &lt;task&gt; --output-format stream-json --verbose --include-partial-messages …</c> (NOTES §7):
/// system/init → session.init, system/api_retry → agent.api_retry, stream_event text deltas → agent.token,
/// assistant → agent.message, result → run.result.
/// </summary>
public sealed class ClaudeCodeAdapter(RunsConfiguration configuration) : ICliAdapter
{
    public string CliName => "claude-code";

    public bool UsesHooks => true;

    public CliCommand BuildCommand(CliLaunch launch) =>
        Command(launch, ["-p", launch.Prompt, "--output-format", "stream-json", "--verbose", "--include-partial-messages"], printMode: true);

    public bool CanResumeInteractively => true;

    /// <summary>The same flags without <c>-p</c>: the CLI's terminal UI on the resumed session, hooks still reporting to Baton.</summary>
    public CliCommand BuildInteractiveCommand(CliLaunch launch) => Command(launch, [], printMode: false);

    private CliCommand Command(CliLaunch launch, List<string> args, bool printMode)
    {
        if (!string.IsNullOrWhiteSpace(launch.AllowedTools))
        {
            args.AddRange(["--allowedTools", launch.AllowedTools]);
        }
        if (printMode && launch.MaxTurns > 0)
        {
            // A print-mode limit: at the interactive UI a person decides when to stop.
            args.AddRange(["--max-turns", launch.MaxTurns.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (!string.IsNullOrWhiteSpace(launch.Model))
        {
            args.AddRange(["--model", launch.Model]);
        }
        if (!string.IsNullOrWhiteSpace(launch.Instructions))
        {
            args.AddRange(["--append-system-prompt", launch.Instructions]);
        }
        args.AddRange(["--settings", launch.HookSettingsPath]);
        foreach (var directory in launch.ExtraDirectories)
        {
            args.AddRange(["--add-dir", directory]);
        }
        if (launch.ResumeSessionId is not null)
        {
            args.AddRange(["--resume", launch.ResumeSessionId]);
        }
        var command = Json.String(launch.ProviderConfig, "command") ?? configuration.ClaudeCommand;
        return new CliCommand(command, args, Json.StringMap(launch.ProviderConfig["env"]));
    }

    public ICliOutputParser CreateParser() => new Parser();

    private sealed class Parser : ICliOutputParser
    {
        public IEnumerable<AdapterEvent> ParseLine(string line)
        {
            var json = Json.TryParseObject(line);
            if (json is null)
            {
                yield break;
            }
            switch (Json.String(json, "type"))
            {
                case "system" when Json.String(json, "subtype") == "init":
                    yield return new AdapterEvent("session.init", new JsonObject
                    {
                        ["session_id"] = Json.String(json, "session_id"),
                        ["cli_version"] = Json.String(json, "claude_code_version"),
                        ["model"] = Json.String(json, "model"),
                        ["cwd"] = Json.String(json, "cwd"),
                    });
                    break;
                case "system" when Json.String(json, "subtype") == "api_retry":
                    // A rejected key or an unreachable model endpoint is retried for minutes (10 attempts by
                    // default) with no other output: without this event a run would look silently stuck.
                    yield return new AdapterEvent("agent.api_retry", new JsonObject
                    {
                        ["attempt"] = Json.Long(json, "attempt"),
                        ["max_retries"] = Json.Long(json, "max_retries"),
                        ["retry_delay_ms"] = Json.Long(json, "retry_delay_ms"),
                        ["error_status"] = json["error_status"]?.DeepClone(),
                        ["error"] = Json.String(json, "error"),
                    });
                    break;
                case "stream_event":
                    var streamEvent = json["event"];
                    if (Json.String(streamEvent, "type") == "content_block_delta"
                        && Json.String(streamEvent?["delta"], "type") == "text_delta"
                        && Json.String(streamEvent?["delta"], "text") is { Length: > 0 } token)
                    {
                        yield return new AdapterEvent("agent.token", new JsonObject { ["text"] = token });
                    }
                    break;
                case "assistant":
                    var text = new StringBuilder();
                    if (json["message"]?["content"] is JsonArray content)
                    {
                        foreach (var block in content)
                        {
                            if (Json.String(block, "type") == "text")
                            {
                                text.Append(Json.String(block, "text"));
                            }
                        }
                    }
                    if (text.Length > 0)
                    {
                        yield return new AdapterEvent("agent.message", new JsonObject
                        {
                            ["text"] = text.ToString(),
                            ["message_id"] = Json.String(json["message"], "id"),
                        });
                    }
                    break;
                case "result":
                    var usage = json["usage"];
                    // Claude Code caches its prompt, so most of what the model reads is reported as cache
                    // writes/reads beside input_tokens; tokens_in counts all of it (as Codex's input_tokens does).
                    var cacheCreation = Json.Long(usage, "cache_creation_input_tokens");
                    var cacheRead = Json.Long(usage, "cache_read_input_tokens");
                    yield return new AdapterEvent("run.result", new JsonObject
                    {
                        ["tokens_in"] = Json.Long(usage, "input_tokens") + cacheCreation + cacheRead,
                        ["tokens_out"] = Json.Long(usage, "output_tokens"),
                        ["cache_creation_tokens"] = cacheCreation,
                        ["cache_read_tokens"] = cacheRead,
                        ["cost_usd"] = Json.Double(json, "total_cost_usd"),
                        ["session_id"] = Json.String(json, "session_id"),
                        ["subtype"] = Json.String(json, "subtype"),
                        ["is_error"] = json["is_error"] is JsonValue e && e.TryGetValue<bool>(out var isError) && isError,
                        ["num_turns"] = Json.Long(json, "num_turns"),
                        ["duration_ms"] = Json.Long(json, "duration_ms"),
                        ["result"] = Json.String(json, "result"),
                    });
                    break;
            }
        }
    }
}
