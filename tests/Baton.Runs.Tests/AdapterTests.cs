using System.Text.Json.Nodes;
using Baton.Runs.Adapters;

namespace Baton.Runs.Tests;

public sealed class AdapterTests
{
    private static CliLaunch Launch(string? resume = null, JsonObject? config = null) => new(
        "run-1", "do it", resume, "claude-sonnet-4-6", "be brief", "Read,Edit", 7, config ?? [], "/w/app", ["/w/api"], "/d/run-1", "/d/run-1/claude-hooks.json");

    [Fact]
    public void ClaudeCode_BuildsTheDocumentedCommandLine_AndResumes()
    {
        var adapter = new ClaudeCodeAdapter(new RunsConfiguration { ClaudeCommand = "claude" });
        var command = adapter.BuildCommand(Launch(config: new JsonObject { ["env"] = new JsonObject { ["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9" } }));
        Assert.Equal("claude", command.FileName);
        Assert.Equal(
            ["-p", "do it", "--output-format", "stream-json", "--verbose", "--include-partial-messages", "--allowedTools", "Read,Edit",
             "--max-turns", "7", "--model", "claude-sonnet-4-6", "--append-system-prompt", "be brief", "--settings", "/d/run-1/claude-hooks.json",
             "--add-dir", "/w/api"],
            command.Arguments);
        Assert.Equal("http://127.0.0.1:9", command.Environment["ANTHROPIC_BASE_URL"]);
        var resumed = adapter.BuildCommand(Launch(resume: "sess-1"));
        Assert.Equal(["--resume", "sess-1"], resumed.Arguments.TakeLast(2));
    }

    [Fact]
    public void InteractiveResume_IsTheCliUiOnTheSession_WithoutPrintModeFlags()
    {
        var claude = new ClaudeCodeAdapter(new RunsConfiguration { ClaudeCommand = "claude" });
        Assert.True(claude.CanResumeInteractively);
        var interactive = claude.BuildInteractiveCommand(Launch(resume: "sess-1"));
        Assert.Equal(
            ["--allowedTools", "Read,Edit", "--model", "claude-sonnet-4-6", "--append-system-prompt", "be brief", "--settings", "/d/run-1/claude-hooks.json",
             "--add-dir", "/w/api", "--resume", "sess-1"],
            interactive.Arguments);

        var codex = new CodexAdapter(new RunsConfiguration { CodexCommand = "codex" });
        Assert.True(codex.CanResumeInteractively);
        Assert.Equal(["--sandbox", "workspace-write", "--model", "claude-sonnet-4-6", "resume", "thread-9"], codex.BuildInteractiveCommand(Launch(resume: "thread-9")).Arguments);
        Assert.Throws<InvalidOperationException>(() => codex.BuildInteractiveCommand(Launch()));

        var custom = new CustomAdapter();
        Assert.False(custom.CanResumeInteractively);
        Assert.Throws<InvalidOperationException>(() => custom.BuildInteractiveCommand(Launch(resume: "s")));
    }

    [Fact]
    public void ClaudeCode_MapsStreamJsonToEvents()
    {
        var parser = new ClaudeCodeAdapter(new RunsConfiguration()).CreateParser();
        var init = Assert.Single(parser.ParseLine("{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\",\"claude_code_version\":\"2.1.328\",\"model\":\"m\"}"));
        Assert.Equal("session.init", init.EventType);
        Assert.Equal("s1", (string?)init.Payload["session_id"]);
        Assert.Equal("2.1.328", (string?)init.Payload["cli_version"]);
        var token = Assert.Single(parser.ParseLine("{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}}"));
        Assert.Equal("agent.token", token.EventType);
        var message = Assert.Single(parser.ParseLine("{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},{\"type\":\"tool_use\",\"name\":\"Bash\"}]}}"));
        Assert.Equal("Hello", (string?)message.Payload["text"]);
        Assert.Empty(parser.ParseLine("{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"name\":\"Bash\"}]}}"));
        var result = Assert.Single(parser.ParseLine("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"session_id\":\"s1\",\"total_cost_usd\":0.5,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":100,\"output_tokens\":4}}"));
        Assert.Equal("run.result", result.EventType);
        Assert.Equal(123, (long)result.Payload["tokens_in"]!);
        Assert.Equal(100, (long)result.Payload["cache_read_tokens"]!);
        Assert.Equal(4, (long)result.Payload["tokens_out"]!);
        Assert.Equal(0.5, (double)result.Payload["cost_usd"]!);
        var retry = Assert.Single(parser.ParseLine("{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":2,\"max_retries\":10,\"retry_delay_ms\":1138,\"error_status\":401,\"error\":\"authentication_failed\",\"session_id\":\"s1\"}"));
        Assert.Equal("agent.api_retry", retry.EventType);
        Assert.Equal(401, (long)retry.Payload["error_status"]!);
        Assert.Equal("authentication_failed", (string?)retry.Payload["error"]);
        Assert.Empty(parser.ParseLine("{\"type\":\"system\",\"subtype\":\"status\",\"status\":\"requesting\"}"));
        Assert.Empty(parser.ParseLine("plain terminal noise"));
        Assert.Empty(parser.ParseLine("{not json"));
    }

    [Fact]
    public void Codex_ExecJson_MapsThreadMessagesAndUsage_AndResumes()
    {
        var adapter = new CodexAdapter(new RunsConfiguration { CodexCommand = "codex" });
        var command = adapter.BuildCommand(Launch());
        Assert.Equal(["exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write"], command.Arguments.Take(5));
        var unsandboxed = adapter.BuildCommand(Launch(config: new JsonObject { ["sandbox_mode"] = "danger-full-access" }));
        Assert.Equal(["--sandbox", "danger-full-access"], unsandboxed.Arguments.Skip(3).Take(2));
        var invalid = Assert.Throws<InvalidOperationException>(() => adapter.BuildCommand(Launch(config: new JsonObject { ["sandbox_mode"] = "yolo" })));
        Assert.Contains("read-only, workspace-write, danger-full-access", invalid.Message);
        Assert.EndsWith("do it", command.Arguments[^1]);
        Assert.Equal(["resume", "t-1", "do it"], adapter.BuildCommand(Launch(resume: "t-1")).Arguments.TakeLast(3));

        var parser = adapter.CreateParser();
        Assert.Equal("t-1", (string?)Assert.Single(parser.ParseLine("{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}")).Payload["session_id"]);
        Assert.Equal("agent.message", Assert.Single(parser.ParseLine("{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"done\"}}")).EventType);
        var call = Assert.Single(parser.ParseLine("{\"type\":\"item.started\",\"item\":{\"id\":\"item_1\",\"type\":\"command_execution\",\"command\":\"ls\",\"aggregated_output\":\"\",\"exit_code\":null,\"status\":\"in_progress\"}}"));
        Assert.Equal(("agent.tool_call", "ls", "item_1"), (call.EventType, (string?)call.Payload["input"]!["command"], (string?)call.Payload["tool_use_id"]));
        var output = Assert.Single(parser.ParseLine("{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\",\"type\":\"command_execution\",\"command\":\"ls\",\"aggregated_output\":\"a.txt\\n\",\"exit_code\":2,\"status\":\"failed\"}}"));
        Assert.Equal(("agent.tool_result", "a.txt\n", 2, "item_1"), (output.EventType, (string?)output.Payload["output"], (int)output.Payload["exit_code"]!, (string?)output.Payload["tool_use_id"]));
        var result = Assert.Single(parser.ParseLine("{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":10,\"cached_input_tokens\":2,\"output_tokens\":5}}"));
        Assert.Equal(10, (long)result.Payload["tokens_in"]!);
        Assert.Equal("t-1", (string?)result.Payload["session_id"]);
    }

    [Fact]
    public void Codex_ExecJson_RetriesAreNotResults_AndTurnFailedIsTheOneFailure()
    {
        // Lines codex 0.169 printed for a rejected API key (ids and URL shortened).
        var parser = new CodexAdapter(new RunsConfiguration { CodexCommand = "codex" }).CreateParser();
        Assert.Single(parser.ParseLine("{\"type\":\"thread.started\",\"thread_id\":\"t-1\"}"));
        Assert.Empty(parser.ParseLine("{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\",\"type\":\"error\",\"message\":\"Model metadata for `m` not found.\"}}"));
        Assert.Empty(parser.ParseLine("{\"type\":\"turn.started\"}"));
        var retry = Assert.Single(parser.ParseLine("{\"type\":\"error\",\"message\":\"Reconnecting... 1/5 (unexpected status 401 Unauthorized: Incorrect API key provided., url: http://x/v1/responses)\"}"));
        Assert.Equal("agent.api_retry", retry.EventType);
        Assert.Contains("401", (string?)retry.Payload["error"], StringComparison.Ordinal);
        Assert.Empty(parser.ParseLine("{\"type\":\"error\",\"message\":\"unexpected status 401 Unauthorized: Incorrect API key provided., url: http://x/v1/responses\"}"));
        var failed = Assert.Single(parser.ParseLine("{\"type\":\"turn.failed\",\"error\":{\"message\":\"unexpected status 401 Unauthorized: Incorrect API key provided., url: http://x/v1/responses\"}}"));
        Assert.Equal("run.result", failed.EventType);
        Assert.True((bool)failed.Payload["is_error"]!);
        Assert.Equal("t-1", (string?)failed.Payload["session_id"]);
        Assert.StartsWith("unexpected status 401", (string?)failed.Payload["result"], StringComparison.Ordinal);

        var noMessage = new CodexAdapter(new RunsConfiguration()).CreateParser();
        Assert.Empty(noMessage.ParseLine("{\"type\":\"error\",\"message\":\"boom\"}"));
        Assert.Equal("boom", (string?)Assert.Single(noMessage.ParseLine("{\"type\":\"turn.failed\"}")).Payload["result"]);
    }

    [Fact]
    public void Custom_RunsTheConfiguredCommandWithTheTask()
    {
        var command = new CustomAdapter().BuildCommand(Launch(config: new JsonObject { ["command"] = "my-agent --go" }));
        Assert.Equal("/bin/sh", command.FileName);
        Assert.Equal(["-c", "my-agent --go"], command.Arguments);
        Assert.Equal("do it", command.Environment["BATON_TASK"]);
        Assert.Throws<InvalidOperationException>(() => new CustomAdapter().BuildCommand(Launch()));
    }
}
