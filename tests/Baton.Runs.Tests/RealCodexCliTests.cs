using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;
using static Baton.Runs.Tests.Infrastructure.RunEvents;

namespace Baton.Runs.Tests;

/// <summary>
/// The codex adapter against the real OpenAI Codex CLI (pinned in CodexCli/package.json), pointed
/// through the agent's provider_config.env (a throwaway CODEX_HOME whose config.toml names a model
/// provider) at a local fake of the OpenAI Responses API.
/// </summary>
public sealed class RealCodexCliTests
{
    private const string Model = "gpt-5-codex";
    private const string CallId = "call_baton_e2e_01";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    [RealCodexCliFact]
    public async Task Run_WithRealCli_RunsAShellCommandInTheWorktree_AndCompletes()
    {
        var proof = $"baton-proof-{Guid.NewGuid():N}";
        await using var api = await FakeOpenAiApi.StartAsync(request => request.FunctionCallOutput(CallId) is null
            ? WriteProofResponse(proof, inputTokens: 1000, outputTokens: 21)
            : new FakeResponse([new FakeText("All done: proof.txt holds the proof.")], 1200, 34));
        await using var host = await StartHostAsync();
        var marker = $"baton-instructions-{Guid.NewGuid():N}";
        var agentId = await CreateAgentAsync(host, api, marker);

        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;
        var run = await host.WaitForStatusAsync(runId, "completed", RunTimeout);
        var events = await host.GetEventsAsync(runId);
        var describe = () => $"events: {events.ToJsonString()}\nrequests: {string.Join("\n", api.Requests.Select(r => $"{r.Method} {r.Path} {r.Model}"))}";

        // The thread codex reported is the one it told the model about and is stored as the run's session.
        var sessionId = (string?)run["session_id"];
        Assert.True(Guid.TryParse(sessionId, out _), describe());
        Assert.Equal(sessionId, (string?)Single(events, "session.init")["session_id"]);

        // Exactly the scripted conversation reached the model, authenticated, streamed, with the agent's model.
        var turns = api.ResponsesRequests;
        Assert.True(turns.Count == 2 && api.Requests.Count == 2, describe());
        Assert.All(api.Requests, r => Assert.Equal($"Bearer {api.ApiKey}", r.Headers.GetValueOrDefault("authorization")));
        Assert.All(turns, r =>
        {
            Assert.Equal(sessionId, r.Headers.GetValueOrDefault("session-id"));
            Assert.Equal(Model, r.Model);
            Assert.True(r.Stream);
        });
        Assert.Contains(marker + "\n\nWrite the proof file.", turns[0].Transcript(), StringComparison.Ordinal);
        Assert.Contains(proof, turns[1].FunctionCallOutput(CallId), StringComparison.Ordinal);

        // The shell command really ran in the run's worktree.
        var worktree = (string)Single(events, "run.started")["worktrees"]![0]!["worktree_path"]!;
        Assert.Equal(proof, (await File.ReadAllTextAsync(Path.Combine(worktree, "proof.txt"))).Trim());

        // What the model said, and the usage summed over both model calls as the fake reported it.
        Assert.Equal(["All done: proof.txt holds the proof."], Payloads(events, "agent.message").Select(p => (string?)p["text"]));
        // The command codex ran is a tool call and its result, paired by the item id.
        var call = Single(events, "agent.tool_call");
        Assert.Contains($"echo {proof} > proof.txt", (string?)call["input"]!["command"], StringComparison.Ordinal);
        var result = Single(events, "agent.tool_result");
        Assert.Equal((string?)call["tool_use_id"], (string?)result["tool_use_id"]);
        Assert.Equal(0, (int)result["exit_code"]!);
        Assert.Contains(proof, (string?)result["output"], StringComparison.Ordinal);
        var runResult = Single(events, "run.result");
        Assert.Equal(2200, (long)runResult["tokens_in"]!);
        Assert.Equal(55, (long)runResult["tokens_out"]!);
        Assert.Equal(sessionId, (string?)runResult["session_id"]);
        Assert.False((bool)runResult["is_error"]!);
        Assert.Equal(2200, (long)run["tokens_in"]!);
        Assert.Equal(55, (long)run["tokens_out"]!);
        Assert.Equal("run.completed", (string?)events.Last()!["event_type"]);
    }

    [RealCodexCliFact]
    public async Task PauseThenContinue_WithRealCli_ResumesTheSameThreadWithItsHistory()
    {
        const string FollowUp = "Now say goodbye.";
        var secondTurn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var proof = $"baton-proof-{Guid.NewGuid():N}";
        await using var api = await FakeOpenAiApi.StartAsync(async (request, ct) =>
        {
            if (request.Transcript().Contains(FollowUp, StringComparison.Ordinal))
            {
                return new FakeResponse([new FakeText("Goodbye after resuming.")], 1500, 8);
            }
            if (request.FunctionCallOutput(CallId) is null)
            {
                return WriteProofResponse(proof, inputTokens: 1000, outputTokens: 21);
            }
            // The model "thinks" until the CLI is killed by the pause.
            secondTurn.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            throw new OperationCanceledException(ct);
        });
        await using var host = await StartHostAsync();
        var agentId = await CreateAgentAsync(host, api, "be brief");
        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;

        await secondTurn.Task.WaitAsync(RunTimeout);
        using (var pause = await host.Http.PostAsync($"/api/runs/{runId}/pause", null))
        {
            Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        }
        var paused = await host.GetRunAsync(runId);
        Assert.Equal("paused", (string?)paused["status"]);
        var sessionId = (string)paused["session_id"]!;

        using (var continued = await host.Http.PostAsJsonAsync($"/api/runs/{runId}/continue", new { message = FollowUp }))
        {
            Assert.Equal(HttpStatusCode.OK, continued.StatusCode);
        }
        var done = await host.WaitForStatusAsync(runId, "completed", RunTimeout);
        Assert.Equal(sessionId, (string?)done["session_id"]);
        // The paused codex was killed before its turn.completed; the resumed one reports the thread's usage
        // so far (codex 0.169 counts the resumed rollout's earlier calls too), so the run counts each call once.
        Assert.Equal(2500, (long)done["tokens_in"]!);
        Assert.Equal(29, (long)done["tokens_out"]!);

        // The resumed codex sent the whole earlier conversation, then the new message, on the same thread.
        var resumed = api.ResponsesRequests[^1];
        Assert.Equal(sessionId, resumed.Headers.GetValueOrDefault("session-id"));
        var transcript = resumed.Transcript();
        var order = new[] { "Write the proof file.", "function_call:exec_command", proof, FollowUp }.Select(s => transcript.IndexOf(s, StringComparison.Ordinal)).ToList();
        Assert.True(order.All(i => i >= 0) && order.SequenceEqual(order.Order()), transcript);
        Assert.Equal("user", (string?)resumed.Input[^1]!["role"]);

        var events = await host.GetEventsAsync(runId);
        Assert.Equal(FollowUp, (string?)Single(events, "user.message")["message"]);
        Assert.All(Payloads(events, "session.init"), p => Assert.Equal(sessionId, (string?)p["session_id"]));
        Assert.Equal(2, Payloads(events, "run.started").Count(p => p["pid"] is not null));
        Assert.Equal("Goodbye after resuming.", (string?)Payloads(events, "agent.message").Last()["text"]);
        Assert.Equal("run.completed", (string?)events.Last()!["event_type"]);
    }

    [RealCodexCliFact]
    public async Task Run_WithRealCli_AndARejectedApiKey_FailsWithTheReason()
    {
        await using var api = await FakeOpenAiApi.StartAsync(_ => throw new InvalidOperationException("never reached with a wrong key"));
        await using var host = await StartHostAsync();
        var agentId = await CreateAgentAsync(host, api, "be brief", apiKey: "sk-wrong", retries: 1);
        var runId = (string)(await host.CreateRunAsync(agentId, "Write the proof file."))["id"]!;

        var failed = await host.WaitForStatusAsync(runId, "failed", RunTimeout);
        var events = await host.GetEventsAsync(runId);
        Assert.NotEmpty(api.Requests);
        Assert.All(api.Requests, r => Assert.Equal("Bearer sk-wrong", r.Headers.GetValueOrDefault("authorization")));
        // codex retries once (as configured), saying so; only turn.failed ends the run, with codex's reason.
        var retry = Single(events, "agent.api_retry");
        Assert.StartsWith("Reconnecting... 1/1", (string?)retry["error"], StringComparison.Ordinal);
        var result = Single(events, "run.result");
        Assert.True((bool)result["is_error"]!);
        Assert.StartsWith("unexpected status 401 Unauthorized: Incorrect API key provided.", (string?)result["result"], StringComparison.Ordinal);
        Assert.Equal((string?)result["result"], (string?)failed["failure_reason"]);
        Assert.Equal((string?)failed["failure_reason"], (string?)Single(events, "run.failed")["reason"]);
    }

    /// <summary>The runs service starting the real CLI; pause gives it a grace to write its rollout before SIGKILL.</summary>
    private static Task<RunsHost> StartHostAsync() => RunsHost.StartAsync(new RunsHostOptions
    {
        CodexCommand = PinnedCli.Codex.RequireExecutable(),
        Settings = { ["BATON_KILL_GRACE_SECONDS"] = "10" },
    });

    private static FakeResponse WriteProofResponse(string proof, int inputTokens, int outputTokens) => new(
        [new FakeToolUse(CallId, "exec_command", new JsonObject { ["cmd"] = $"echo {proof} > proof.txt && cat proof.txt" })],
        inputTokens, outputTokens);

    /// <summary>
    /// An agent whose codex talks to <paramref name="api"/> only: a throwaway HOME and CODEX_HOME whose
    /// config.toml defines the fake as the model provider (codex 0.169 ignores OPENAI_BASE_URL), turns off
    /// update checks and analytics, and retries a failed model call <paramref name="retries"/> times. Its
    /// <c>sandbox_mode</c> runs commands unsandboxed (Baton asks for workspace-write otherwise): codex's
    /// sandbox helper cannot be set up under a temporary CODEX_HOME, and the worktree is the test's own
    /// temporary directory.
    /// </summary>
    private static async Task<string> CreateAgentAsync(RunsHost host, FakeOpenAiApi api, string instructions, string? apiKey = null, int retries = 0)
    {
        var project = await host.CreateProjectWithRepoAsync();
        var home = Directory.CreateDirectory(Path.Combine(host.DataDir, "codex-home")).FullName;
        var codexHome = Directory.CreateDirectory(Path.Combine(home, ".codex")).FullName;
        await File.WriteAllTextAsync(Path.Combine(codexHome, "config.toml"), $"""
            model_provider = "baton-fake"
            approval_policy = "never"
            check_for_update_on_startup = false

            [analytics]
            enabled = false

            [model_providers.baton-fake]
            name = "Baton fake OpenAI"
            base_url = "{api.Url}/v1"
            env_key = "OPENAI_API_KEY"
            wire_api = "responses"
            request_max_retries = {retries}
            stream_max_retries = {retries}
            """);
        var env = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["CODEX_HOME"] = codexHome,
            ["OPENAI_API_KEY"] = apiKey ?? api.ApiKey,
        };
        var agent = await host.CreateAgentAsync((string)project["id"]!, new
        {
            cli_name = "codex",
            model = Model,
            instructions,
            max_turns = 5,
            provider_config = new { env, sandbox_mode = "danger-full-access" },
        });
        return (string)agent["id"]!;
    }
}
