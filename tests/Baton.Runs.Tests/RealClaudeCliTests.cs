using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.Runs.Tests.Infrastructure;
using static Baton.Runs.Tests.Infrastructure.RunEvents;

namespace Baton.Runs.Tests;

/// <summary>
/// The claude-code adapter against the real Claude Code CLI (pinned in ClaudeCli/package.json),
/// pointed through the agent's provider_config.env at a local fake of the Anthropic Messages API.
/// </summary>
public sealed class RealClaudeCliTests
{
    private const string Model = "claude-sonnet-4-6";
    private const string ToolUseId = "toolu_baton_e2e_01";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    [RealClaudeCliFact]
    public async Task Run_WithRealCli_StreamsEventsRunsToolsThroughHooks_AndCompletes()
    {
        var proof = $"baton-proof-{Guid.NewGuid():N}";
        await using var api = await FakeAnthropicApi.StartAsync(request => request.ToolResult(ToolUseId) is null
            ? WriteProofTurn(proof, inputTokens: 1000, outputTokens: 21) with { CacheCreationTokens = 5000 }
            : new FakeReply([new FakeText("All done: proof.txt holds the proof.")], "end_turn", 1200, 34, CacheReadTokens: 5000));
        await using var host = await StartHostAsync();
        var marker = $"baton-instructions-{Guid.NewGuid():N}";
        var agentId = await CreateAgentAsync(host, api, marker);

        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;
        var run = await host.WaitForStatusAsync(runId, "completed", RunTimeout);
        var events = await host.GetEventsAsync(runId);
        var describe = () => $"events: {events.ToJsonString()}\nrequests: {string.Join("\n", api.Requests.Select(r => $"{r.Method} {r.Path} {r.Model}"))}";

        // The session the CLI reported is the one it used with the model and is stored on the run.
        var init = Single(events, "session.init");
        var sessionId = (string?)run["session_id"];
        Assert.False(string.IsNullOrEmpty(sessionId), describe());
        Assert.Equal(sessionId, (string?)init["session_id"]);
        Assert.Equal(Model, (string?)init["model"]);
        Assert.False(string.IsNullOrEmpty((string?)init["cli_version"]));
        var worktree = (string)Single(events, "run.started")["worktrees"]![0]!["worktree_path"]!;
        Assert.Equal(worktree, (string?)init["cwd"]);

        // Exactly the scripted conversation reached the model, authenticated, with the agent's settings.
        var turns = api.ConversationRequests;
        Assert.True(turns.Count == 2, describe());
        Assert.All(api.Requests, r => Assert.Equal(api.ApiKey, r.Headers.GetValueOrDefault("x-api-key")));
        Assert.All(turns, r =>
        {
            Assert.False(string.IsNullOrEmpty(r.Headers.GetValueOrDefault("anthropic-version")));
            Assert.Equal(sessionId, r.Headers.GetValueOrDefault("x-claude-code-session-id"));
            Assert.Equal(Model, r.Model);
            Assert.True(r.Stream);
        });
        Assert.Contains(marker, turns[0].Body!["system"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("Write the proof file.", turns[0].Transcript(), StringComparison.Ordinal);
        Assert.Contains(proof, turns[1].ToolResult(ToolUseId), StringComparison.Ordinal);

        // The tool really ran in the run's worktree, and the CLI's own hooks reported it.
        Assert.Equal(proof, (await File.ReadAllTextAsync(Path.Combine(worktree, "proof.txt"))).Trim());
        var call = Single(events, "agent.tool_call");
        Assert.Equal("Bash", (string?)call["tool"]);
        Assert.Equal(ToolUseId, (string?)call["tool_use_id"]);
        Assert.Contains(proof, (string?)call["input"]!["command"], StringComparison.Ordinal);
        var result = Single(events, "agent.tool_result");
        Assert.Equal("Bash", (string?)result["tool"]);
        Assert.Equal(ToolUseId, (string?)result["tool_use_id"]);
        Assert.Contains(proof, result["output"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("startup", (string?)Single(events, "hook.SessionStart")["source"]);

        // What the model said, streamed and whole.
        Assert.Equal(["I will write the proof file.", "All done: proof.txt holds the proof."], Payloads(events, "agent.message").Select(p => (string?)p["text"]));
        Assert.Equal("I will write the proof file.All done: proof.txt holds the proof.", string.Concat(Payloads(events, "agent.token").Select(p => (string?)p["text"])));

        // Usage summed over both turns, as the fake reported it; cached prompt tokens count as input.
        var runResult = Single(events, "run.result");
        Assert.Equal(12200, (long)runResult["tokens_in"]!);
        Assert.Equal(5000, (long)runResult["cache_creation_tokens"]!);
        Assert.Equal(5000, (long)runResult["cache_read_tokens"]!);
        Assert.Equal(55, (long)runResult["tokens_out"]!);
        Assert.Equal(sessionId, (string?)runResult["session_id"]);
        Assert.False((bool)runResult["is_error"]!);
        Assert.Equal(12200, (long)run["tokens_in"]!);
        Assert.Equal(55, (long)run["tokens_out"]!);
        Assert.True((double)run["cost_usd"]! > 0);
        Assert.Equal("run.completed", (string?)events.Last()!["event_type"]);
    }

    [RealClaudeCliFact]
    public async Task PauseThenContinue_WithRealCli_ResumesTheSameSessionWithItsHistory()
    {
        const string FollowUp = "Now say goodbye.";
        var proof = $"baton-proof-{Guid.NewGuid():N}";
        var secondTurn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var api = await StartModelThatThinksAfterTheToolAsync(proof, FollowUp, "Goodbye after resuming.", secondTurn);
        await using var host = await StartHostAsync();
        var runId = await StartRunAndPauseItMidTurnAsync(host, api, secondTurn);
        var paused = await host.GetRunAsync(runId);
        Assert.Equal("paused", (string?)paused["status"]);
        var sessionId = (string)paused["session_id"]!;

        using (var continued = await host.Http.PostAsJsonAsync($"/api/runs/{runId}/continue", new { message = FollowUp }))
        {
            Assert.Equal(HttpStatusCode.OK, continued.StatusCode);
        }
        var done = await host.WaitForStatusAsync(runId, "completed", RunTimeout);
        Assert.Equal(sessionId, (string?)done["session_id"]);

        // The resumed CLI sent the whole earlier conversation, then the new message, in the same session.
        var resumed = api.ConversationRequests[^1];
        Assert.Equal(sessionId, resumed.Headers.GetValueOrDefault("x-claude-code-session-id"));
        var transcript = resumed.Transcript();
        var order = new[] { "Write the proof file.", "tool_use:Bash", proof, FollowUp }.Select(s => transcript.IndexOf(s, StringComparison.Ordinal)).ToList();
        Assert.True(order.All(i => i >= 0) && order.SequenceEqual(order.Order()), transcript);
        Assert.Equal("user", (string?)resumed.Messages[^1]!["role"]);

        var events = await host.GetEventsAsync(runId);
        Assert.Equal(FollowUp, (string?)Single(events, "user.message")["message"]);
        Assert.All(Payloads(events, "session.init"), p => Assert.Equal(sessionId, (string?)p["session_id"]));
        Assert.Equal(["startup", "resume"], Payloads(events, "hook.SessionStart").Select(p => (string?)p["source"]));
        Assert.Equal(2, Payloads(events, "run.started").Count(p => p["pid"] is not null));
        Assert.Equal("Goodbye after resuming.", (string?)Payloads(events, "agent.message").Last()["text"]);
        Assert.Equal("run.completed", (string?)events.Last()!["event_type"]);
    }

    [RealClaudeCliFact]
    public async Task PausedRun_TakenOverInATerminal_ResumesTheSessionInTheCliUi()
    {
        const string FollowUp = "Now say goodbye.";
        var secondTurn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var api = await StartModelThatThinksAfterTheToolAsync("interactive-proof", FollowUp, "Goodbye-from-the-terminal.", secondTurn);
        await using var host = await StartHostAsync();
        var runId = await StartRunAndPauseItMidTurnAsync(host, api, secondTurn);
        var sessionId = (string)(await host.GetRunAsync(runId))["session_id"]!;
        var cwd = (string)Single(await host.GetEventsAsync(runId), "run.started")["cwd"]!;
        AcceptFirstRunPrompts(host, api, cwd);

        await using var terminal = new TerminalClient(host.Client, new TerminalOpen { RunId = runId, Cols = 120, Rows = 40 });
        var describe = () => $"terminal (last 3000 characters): {terminal.Text[^Math.Min(3000, terminal.Text.Length)..]}\nrequests: {string.Join("\n", api.ConversationRequests.Select(r => r.Transcript()))}";
        // The UI positions words with cursor moves (plain spaces only with colours on), so compare the visible characters.
        await Eventually.WaitAsync(() => terminal.VisibleCharacters.Contains("shift+tabtocycle", StringComparison.Ordinal), RunTimeout, describe);
        await terminal.SendAsync(FollowUp);
        await terminal.SendAsync("\r");
        await Eventually.WaitAsync(() => terminal.VisibleCharacters.Contains("Goodbye-from-the-terminal.", StringComparison.Ordinal), RunTimeout, describe);

        // The CLI UI sent the paused session's whole conversation, then what was typed.
        var resumed = api.ConversationRequests.Last(r => r.Transcript().Contains(FollowUp, StringComparison.Ordinal));
        Assert.Equal(sessionId, resumed.Headers.GetValueOrDefault("x-claude-code-session-id"));
        var transcript = resumed.Transcript();
        var order = new[] { "Write the proof file.", "tool_use:Bash", "interactive-proof", FollowUp }.Select(t => transcript.IndexOf(t, StringComparison.Ordinal)).ToList();
        Assert.True(order.All(i => i >= 0) && order.SequenceEqual(order.Order()), transcript);

        // Its hooks drove the run: the prompt made it running, the end of the turn paused it again.
        await Eventually.WaitAsync(async () => Payloads(await host.GetEventsAsync(runId), "run.paused").Count() == 2, RunTimeout, describe);
        var events = await host.GetEventsAsync(runId);
        Assert.Equal(sessionId, (string?)Single(events, "terminal.started")["session_id"]);
        Assert.Contains(Payloads(events, "run.started"), p => (string?)p["source"] == "hook");
        Assert.Equal(["startup", "resume"], Payloads(events, "hook.SessionStart").Select(p => (string?)p["source"]));
        Assert.Equal("paused", (string?)(await host.GetRunAsync(runId))["status"]);

        await host.PostJsonAsync($"/api/runs/{runId}/cancel", new { });
        await Eventually.WaitAsync(() => terminal.Exit is not null, RunTimeout, describe);
    }

    /// <summary>
    /// A model that answers the task by writing <paramref name="proof"/> with the Bash tool, then "thinks"
    /// (signalling <paramref name="secondTurn"/>) until the CLI is killed, and answers a conversation
    /// containing <paramref name="followUp"/> with <paramref name="reply"/>.
    /// </summary>
    private static Task<FakeAnthropicApi> StartModelThatThinksAfterTheToolAsync(string proof, string followUp, string reply, TaskCompletionSource secondTurn) =>
        FakeAnthropicApi.StartAsync(async (request, ct) =>
        {
            if (request.Transcript().Contains(followUp, StringComparison.Ordinal))
            {
                return new FakeReply([new FakeText(reply)], "end_turn", 1500, 8);
            }
            if (request.ToolResult(ToolUseId) is null)
            {
                return WriteProofTurn(proof, inputTokens: 1000, outputTokens: 21);
            }
            secondTurn.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            throw new OperationCanceledException(ct);
        });

    /// <summary>Starts "Write the proof file." and pauses the run while the model thinks about its second turn.</summary>
    private static async Task<string> StartRunAndPauseItMidTurnAsync(RunsHost host, FakeAnthropicApi api, TaskCompletionSource secondTurn)
    {
        var agentId = await CreateAgentAsync(host, api, "be brief");
        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;
        await secondTurn.Task.WaitAsync(RunTimeout);
        await host.PostJsonAsync($"/api/runs/{runId}/pause", new { });
        return runId;
    }

    /// <summary>
    /// The CLI's interactive UI asks once per home whether to use an API key from the environment and
    /// whether to trust a folder; a person at the terminal answers those, here the config says yes.
    /// </summary>
    private static void AcceptFirstRunPrompts(RunsHost host, FakeAnthropicApi api, string cwd)
    {
        var path = Path.Combine(host.DataDir, "claude-home", ".claude", ".claude.json");
        var config = File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))!.AsObject() : [];
        config["hasCompletedOnboarding"] = true;
        config["theme"] = "dark";
        config["customApiKeyResponses"] = new JsonObject { ["approved"] = new JsonArray(api.ApiKey[^20..]), ["rejected"] = new JsonArray() };
        var projects = config["projects"] as JsonObject ?? [];
        projects[cwd] = new JsonObject { ["hasTrustDialogAccepted"] = true, ["hasCompletedProjectOnboarding"] = true };
        config["projects"] = projects;
        File.WriteAllText(path, config.ToJsonString());
    }

    [RealClaudeCliFact]
    public async Task Run_WithRealCli_AndARejectedApiKey_Fails()
    {
        await using var api = await FakeAnthropicApi.StartAsync(_ => throw new InvalidOperationException("never reached with a wrong key"));
        await using var host = await StartHostAsync();
        // The CLI retries a rejected key 10 times over minutes by default; one retry shows the same path.
        var agentId = await CreateAgentAsync(host, api, "be brief", apiKey: "sk-ant-wrong", new() { ["CLAUDE_CODE_MAX_RETRIES"] = "1" });
        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;

        var failed = await host.WaitForStatusAsync(runId, "failed", RunTimeout);
        // The CLI's StopFailure hook fails the run while the CLI is still printing its result line.
        await host.WaitForEventAsync(runId, "run.result", RunTimeout);
        var events = await host.GetEventsAsync(runId);
        Assert.NotEmpty(api.Requests);
        Assert.All(api.Requests, r => Assert.Equal("sk-ant-wrong", r.Headers.GetValueOrDefault("x-api-key")));
        var retry = Payloads(events, "agent.api_retry").First();
        Assert.Equal(401, (long)retry["error_status"]!);
        Assert.Equal("authentication_failed", (string?)retry["error"]);
        var result = Single(events, "run.result");
        Assert.True((bool)result["is_error"]!);
        // Whichever reports first names the failure: the StopFailure hook or the result line.
        Assert.Contains((string?)failed["failure_reason"], new[] { "authentication_failed", (string?)result["result"] });
        Assert.Equal((string?)failed["failure_reason"], (string?)Single(events, "run.failed")["reason"]);
        // The real StopFailure payload names the error in "error" (what fake-claude.sh's STOPFAIL sends too, and
        // HookTests cover). The real CLI runs that hook beside its exit, so on a busy machine the hook's process may
        // not get to post before the CLI is gone: the run's failure above does not depend on it, and when it came, it says why.
        if (host.HookPayloads.FirstOrDefault(h => (string?)h["hook_event_name"] == "StopFailure") is { } stopFailure)
        {
            Assert.Equal("authentication_failed", (string?)stopFailure["error"]);
        }
    }

    [RealClaudeCliFact]
    public async Task Run_WithRealCli_TaskToolsAndASubagent_ReachTheRunThroughTheRealHookPayloads()
    {
        // What fake-claude.sh's TASKS mode imitates, produced by the real CLI: TaskCreate twice, TaskUpdate,
        // then a subagent (the Agent tool), whose own conversation the fake model answers too.
        const string SubagentPrompt = "baton-subagent-prompt: list the files";
        await using var api = await FakeAnthropicApi.StartAsync(request =>
        {
            // The subagent's own conversation starts from the prompt; the main one carries it inside its Agent tool call.
            var transcript = request.Transcript();
            if (transcript.Contains(SubagentPrompt, StringComparison.Ordinal) && !transcript.Contains("tool_use:Agent", StringComparison.Ordinal))
            {
                return new FakeReply([new FakeText("The subagent looked.")], "end_turn", 50, 5);
            }
            if (request.ToolResult("toolu_agent") is not null)
            {
                return new FakeReply([new FakeText("All planned.")], "end_turn", 300, 5);
            }
            if (transcript.Contains("All planned.", StringComparison.Ordinal))
            {
                // The subagent ran in the background; the CLI reports its end as a new prompt.
                return new FakeReply([new FakeText("The subagent is done too.")], "end_turn", 350, 5);
            }
            if (request.ToolResult("toolu_update") is not null)
            {
                return new FakeReply([new FakeToolUse("toolu_agent", "Agent", new JsonObject
                {
                    ["description"] = "Look around",
                    ["prompt"] = SubagentPrompt,
                    ["subagent_type"] = "general-purpose",
                })], "tool_use", 250, 5);
            }
            if (request.ToolResult("toolu_create2") is not null)
            {
                return new FakeReply([new FakeToolUse("toolu_update", "TaskUpdate", new JsonObject { ["taskId"] = "1", ["status"] = "completed" })], "tool_use", 200, 5);
            }
            return new FakeReply(
            [
                new FakeToolUse("toolu_create1", "TaskCreate", new JsonObject { ["subject"] = "Write code", ["description"] = "About Write code", ["activeForm"] = "Writing code" }),
                new FakeToolUse("toolu_create2", "TaskCreate", new JsonObject { ["subject"] = "Write tests", ["description"] = "About Write tests", ["activeForm"] = "Writing tests" }),
            ], "tool_use", 100, 5);
        });
        await using var host = await StartHostAsync();
        // The CLI defers tools like TaskCreate behind its ToolSearch tool unless tool search is off.
        var agentId = await CreateAgentAsync(host, api, "plan first", extraEnv: new() { ["ENABLE_TOOL_SEARCH"] = "false" },
            allowedTools: "Read,Edit,Write,Bash,Glob,Grep,TaskCreate,TaskUpdate,Agent");
        var runId = (string)(await host.CreateRunAsync(agentId, "Plan the work."))["id"]!;
        await Eventually.WaitAsync(async () => (string?)(await host.GetRunAsync(runId))["status"] is "completed" or "failed", RunTimeout, "the run ended");
        var run = await host.GetRunAsync(runId);
        var events = await host.GetEventsAsync(runId);
        var hooks = host.HookPayloads.ToList();
        var describe = () => $"tools offered: {string.Join(",", api.ConversationRequests.FirstOrDefault()?.Body?["tools"]?.AsArray().Select(t => (string?)t?["name"]) ?? [])}\n"
            + $"hooks: {string.Join("\n", hooks.Select(h => h.ToJsonString()))}\nevents: {events.ToJsonString()}\n"
            + $"requests: {string.Join("\n", api.ConversationRequests.Select(r => r.Transcript()))}";
        Assert.True((string?)run["status"] == "completed", describe());

        // The real payloads have the fields the fake sends and the runs service reads.
        var create = hooks.First(h => (string?)h["hook_event_name"] == "PostToolUse" && (string?)h["tool_name"] == "TaskCreate");
        Assert.True(create["tool_response"]?["task"]?["id"] is JsonValue, describe());
        Assert.Equal("toolu_create1", (string?)hooks.First(h => (string?)h["hook_event_name"] == "PreToolUse" && (string?)h["tool_name"] == "TaskCreate")["tool_use_id"]);
        var update = hooks.First(h => (string?)h["hook_event_name"] == "PreToolUse" && (string?)h["tool_name"] == "TaskUpdate");
        Assert.Equal("1", (string?)update["tool_input"]!["taskId"]);
        var subagent = hooks.FirstOrDefault(h => (string?)h["hook_event_name"] == "SubagentStart");
        Assert.True(subagent is not null, describe());
        Assert.Equal("general-purpose", (string?)subagent["agent_type"]);
        Assert.True(subagent["agent_id"] is JsonValue, describe());

        // And the run shows them: the task list reconstructed from the CLI's own hooks, the subagent's start and stop.
        var tasks = (await host.GetJsonAsync($"/api/runs/{runId}/tasks")).AsArray();
        Assert.True(tasks.Count == 2, describe());
        Assert.Equal(["Write code", "Write tests"], tasks.Select(t => (string?)t!["subject"]));
        Assert.Equal(["completed", "pending"], tasks.Select(t => (string?)t!["status"]));
        Assert.Equal((string?)create["tool_response"]!["task"]!["id"], (string?)tasks[0]!["id"]);
        Assert.Equal("general-purpose", (string?)Single(events, "agent.subagent_start")["agent_type"]);
        Assert.Equal((string?)subagent["agent_id"], (string?)Single(events, "agent.subagent_stop")["agent_id"]);
    }

    /// <summary>
    /// The runs service starting the real CLI. Pause sends SIGTERM and SIGKILLs after the grace: the
    /// real CLI saves its session on SIGTERM, which a loaded machine must not cut short.
    /// </summary>
    private static Task<RunsHost> StartHostAsync() => RunsHost.StartAsync(new RunsHostOptions
    {
        ClaudeCommand = PinnedCli.Claude.RequireExecutable(),
        Settings = { ["BATON_KILL_GRACE_SECONDS"] = "10" },
    });

    private static FakeReply WriteProofTurn(string proof, int inputTokens, int outputTokens) => new(
        [
            new FakeText("I will write the proof file."),
            new FakeToolUse(ToolUseId, "Bash", new JsonObject
            {
                ["command"] = $"echo {proof} > proof.txt && cat proof.txt",
                ["description"] = "Write the proof file",
            }),
        ],
        "tool_use", inputTokens, outputTokens);

    /// <summary>An agent whose CLI talks to <paramref name="api"/> only, with a throwaway home and no non-essential traffic.</summary>
    private static async Task<string> CreateAgentAsync(
        RunsHost host, FakeAnthropicApi api, string instructions, string? apiKey = null, Dictionary<string, string>? extraEnv = null, string? allowedTools = null)
    {
        var project = await host.CreateProjectWithRepoAsync();
        var home = Directory.CreateDirectory(Path.Combine(host.DataDir, "claude-home")).FullName;
        var env = new Dictionary<string, string>
        {
            ["ANTHROPIC_BASE_URL"] = api.Url,
            ["ANTHROPIC_API_KEY"] = apiKey ?? api.ApiKey,
            ["HOME"] = home,
            ["CLAUDE_CONFIG_DIR"] = Path.Combine(home, ".claude"),
            ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
            ["DISABLE_TELEMETRY"] = "1",
            ["DISABLE_AUTOUPDATER"] = "1",
        };
        foreach (var (key, value) in extraEnv ?? [])
        {
            env[key] = value;
        }
        var agent = await host.CreateAgentAsync((string)project["id"]!, new
        {
            cli_name = "claude-code",
            model = Model,
            instructions,
            max_turns = 5,
            allowed_tools = allowedTools ?? "Read,Edit,Write,Bash,Glob,Grep",
            provider_config = new { env },
        });
        return (string)agent["id"]!;
    }
}
