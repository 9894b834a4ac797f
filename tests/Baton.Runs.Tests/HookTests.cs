using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;

namespace Baton.Runs.Tests;

public sealed class HookTests
{
    private static async Task<(RunsHost Host, string RunId, string Secret)> CompletedRunAsync(string task)
    {
        var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, task))["id"]!;
        await host.WaitForStatusAsync(runId, "completed");
        var secret = ReadSecret(host, runId);
        Assert.False(string.IsNullOrEmpty(secret), "every run has its own hook secret");
        return (host, runId, secret);
    }

    private static string ReadSecret(RunsHost host, string runId)
    {
        var store = (Baton.Runs.Storage.RunsStore)host.Services.GetService(typeof(Baton.Runs.Storage.RunsStore))!;
        return store.GetRunAsync(runId, CancellationToken.None).GetAwaiter().GetResult()!.HookSecret;
    }

    private static async Task<HttpResponseMessage> PostHookAsync(RunsHost host, string runId, string? secret, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{runId}/hook") { Content = Text.Json(json) };
        if (secret is not null)
        {
            request.Headers.Add("X-Run-Hook-Secret", secret);
        }
        return await host.Http.SendAsync(request);
    }

    [Fact]
    public async Task Hook_WithWrongOrMissingSecret_Returns401_AndStoresNothing()
    {
        var (host, runId, secret) = await CompletedRunAsync("quick");
        await using var _ = host;
        var before = (await host.GetEventsAsync(runId)).Count;
        using var missing = await PostHookAsync(host, runId, null, "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\"}");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        using var wrong = await PostHookAsync(host, runId, secret + "x", "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\"}");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        // Another run's secret is not valid for this run.
        var project = await host.CreateProjectWithRepoAsync("other");
        var agent = await host.CreateAgentAsync((string)project["id"]!);
        var other = (string)(await host.CreateRunAsync((string)agent["id"]!, "other"))["id"]!;
        using var crossRun = await PostHookAsync(host, other, secret, "{\"hook_event_name\":\"PreToolUse\"}");
        Assert.Equal(HttpStatusCode.Unauthorized, crossRun.StatusCode);

        Assert.Equal(before, (await host.GetEventsAsync(runId)).Count);
    }

    [Fact]
    public async Task Hook_AnswersEmptyObject_MapsKnownEvents_AndStoresUnknownOnes()
    {
        var (host, runId, secret) = await CompletedRunAsync("quick UNKNOWN ATTENTION");
        await using var _ = host;
        var events = await host.GetEventsAsync(runId);
        Assert.Contains(events, e => (string?)e!["event_type"] == "hook.FutureHookEvent" && (long)e["payload"]!["something"]! == 42);
        var attention = events.Single(e => (string?)e!["event_type"] == "agent.needs_attention")!;
        Assert.Equal("permission_prompt", (string?)attention["payload"]!["notification_type"]);

        using var response = await PostHookAsync(host, runId, secret,
            "{\"session_id\":\"s\",\"hook_event_name\":\"PostToolUseFailure\",\"tool_name\":\"Bash\",\"error\":\"exit 1\",\"tool_use_id\":\"t9\"}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", (await response.Content.ReadAsStringAsync()).Replace(" ", ""));
        using var subagent = await PostHookAsync(host, runId, secret, "{\"event_name\":\"SubagentStart\",\"agent_type\":\"Explore\"}");
        Assert.Equal(HttpStatusCode.OK, subagent.StatusCode);
        using var ignored = await PostHookAsync(host, runId, secret, "{\"hookEventName\":\"Notification\",\"notification_type\":\"auth_success\"}");
        Assert.Equal(HttpStatusCode.OK, ignored.StatusCode);
        events = await host.GetEventsAsync(runId);
        var failure = events.Last(e => (string?)e!["event_type"] == "agent.tool_result")!;
        Assert.Equal("Bash", (string?)failure["payload"]!["tool"]);
        Assert.Equal("exit 1", (string?)failure["payload"]!["error"]);
        Assert.Equal("Explore", (string?)events.Single(e => (string?)e!["event_type"] == "agent.subagent_start")!["payload"]!["agent_type"]);
        Assert.Single(events, e => (string?)e!["event_type"] == "agent.needs_attention");
    }

    [Fact]
    public async Task StopFailure_FailsTheRun_AndUserPromptSubmitResumesAPausedOne()
    {
        var host = await RunsHost.StartAsync();
        await using var _ = host;
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "SLEEP"))["id"]!;
        await host.WaitForStatusAsync(runId, "running");
        var secret = ReadSecret(host, runId);

        using (await PostHookAsync(host, runId, secret, "{\"hook_event_name\":\"Stop\",\"last_assistant_message\":\"idle now\"}"))
        {
        }
        Assert.Equal("paused", (string?)(await host.GetRunAsync(runId))["status"]);
        using (await PostHookAsync(host, runId, secret, "{\"hook_event_name\":\"UserPromptSubmit\",\"prompt\":\"go on\"}"))
        {
        }
        Assert.Equal("running", (string?)(await host.GetRunAsync(runId))["status"]);
        using (await PostHookAsync(host, runId, secret, "{\"hook_event_name\":\"StopFailure\",\"error_type\":\"rate_limit\"}"))
        {
        }
        var failed = await host.GetRunAsync(runId);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.Equal("rate_limit", (string?)failed["failure_reason"]);
        // The CLI is still alive: cancel stops it.
        using var cancel = await host.Http.PostAsync($"/api/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
    }

    [Fact]
    public async Task Tasks_AreReconstructedFromTaskCreateAndTaskUpdate()
    {
        var (host, runId, _) = await CompletedRunAsync("plan TASKS");
        await using var _ = host;
        var tasks = (await host.GetJsonAsync($"/api/runs/{runId}/tasks")).AsArray();
        Assert.Equal(2, tasks.Count);
        Assert.Equal("1", (string?)tasks[0]!["id"]);
        Assert.Equal("Write code", (string?)tasks[0]!["subject"]);
        Assert.Equal("About Write code", (string?)tasks[0]!["description"]);
        Assert.Equal("completed", (string?)tasks[0]!["status"]);
        Assert.Equal("in_progress", (string?)tasks[1]!["status"]);
    }
}
