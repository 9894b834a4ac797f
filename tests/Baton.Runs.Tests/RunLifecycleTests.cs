using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;

namespace Baton.Runs.Tests;

public sealed class RunLifecycleTests
{
    private static async Task<(RunsHost Host, string AgentId, string StateDir)> StartWithAgentAsync(int maxConcurrent = 4, object? agentExtra = null)
    {
        var host = await RunsHost.StartAsync(new RunsHostOptions { MaxConcurrentRuns = maxConcurrent });
        var project = await host.CreateProjectWithRepoAsync();
        var stateDir = RunsHost.NewTempDir("state");
        var agent = await host.CreateAgentAsync((string)project["id"]!, agentExtra ?? new { provider_config = new { env = new { FAKE_STATE_DIR = stateDir } } });
        return (host, (string)agent["id"]!, stateDir);
    }

    [Fact]
    public async Task CreateRun_Returns201Queued_ThenCompletesWithAdapterEventsAndUsage()
    {
        var (host, agentId, _) = await StartWithAgentAsync();
        await using var _ = host;
        var run = await host.CreateRunAsync(agentId, "Implement user authentication");

        Assert.Equal("queued", (string?)run["status"]);
        Assert.Equal("HEAD", (string?)run["source_branch"]);
        Assert.Equal("claude-code", (string?)run["cli_name"]);
        Assert.Equal(agentId, (string?)run["agent_id"]);
        Assert.Equal(0, (long)run["tokens_in"]!);
        Assert.Equal(0, (long)run["tokens_out"]!);
        Assert.Equal(0.0, (double)run["cost_usd"]!);
        Assert.True(run.ContainsKey("parent_run_id"));
        Assert.Null(run["parent_run_id"]);
        Assert.False((bool)run["notify"]!);
        var id = (string)run["id"]!;
        Assert.Equal($"baton/run-{id.Replace("-", "")[..8]}", (string?)run["run_branch"]);
        Assert.NotNull(run["created_at"]);
        Assert.NotNull(run["updated_at"]);

        var done = await host.WaitForStatusAsync(id, "completed");
        Assert.Equal(120, (long)done["tokens_in"]!);
        Assert.Equal(45, (long)done["tokens_out"]!);
        Assert.Equal(0.0123, (double)done["cost_usd"]!, 6);
        Assert.StartsWith("sess-", (string?)done["session_id"]);

        await host.WaitForEventAsync(id, "run.completed");
        var events = await host.GetEventsAsync(id);
        var types = events.Select(e => (string)e!["event_type"]!).ToList();
        foreach (var expected in new[] { "run.created", "run.started", "session.init", "agent.token", "agent.message", "agent.tool_call", "agent.tool_result", "run.result", "run.completed" })
        {
            Assert.Contains(expected, types);
        }
        Assert.Equal("run.created", types[0]);
        Assert.Equal(1, types.Count(t => t == "run.completed"));
        var sequences = events.Select(e => (long)e!["sequence"]!).ToList();
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
        var first = events[0]!.AsObject();
        Assert.Equal(id, (string?)first["run_id"]);
        Assert.IsType<JsonObject>(first["payload"]);
        Assert.Equal("Implement user authentication", (string?)first["payload"]!["task"]);
        var toolCall = events.First(e => (string?)e!["event_type"] == "agent.tool_call")!;
        Assert.Equal("Write", (string?)toolCall["payload"]!["tool"]);
        Assert.NotNull(toolCall["payload"]!["input"]);
        var result = events.First(e => (string?)e!["event_type"] == "run.result")!;
        Assert.Equal(120, (long)result["payload"]!["tokens_in"]!);
        Assert.Equal((string?)done["session_id"], (string?)result["payload"]!["session_id"]);

        using var logs = await host.Http.GetAsync($"/api/runs/{id}/logs");
        Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
        Assert.StartsWith("text/plain", logs.Content.Headers.ContentType?.ToString());
        Assert.Contains("\"subtype\":\"init\"", await logs.Content.ReadAsStringAsync());

        // The worktree was real and the git service was told the run was active, then inactive.
        var workspace = host.Git.Service.Workspaces[id];
        Assert.True(File.Exists(Path.Combine(workspace.Repos[0].WorktreePath, "fake-output.txt")));
        Assert.Contains((id, true), host.Git.Service.ActiveCalls);
        await Eventually.WaitAsync(() => host.Git.Service.ActiveCalls.Contains((id, false)), TimeSpan.FromSeconds(10), () => "never set inactive");
    }

    [Fact]
    public async Task FailedCli_MarksRunFailedWithReason()
    {
        var (host, agentId, _) = await StartWithAgentAsync();
        await using var _ = host;
        var id = (string)(await host.CreateRunAsync(agentId, "please FAIL"))["id"]!;
        var failed = await host.WaitForStatusAsync(id, "failed");
        Assert.Equal("boom: the model refused", (string?)failed["failure_reason"]);
        await host.WaitForEventAsync(id, "run.failed");
    }

    [Fact]
    public async Task CreateRun_Validation()
    {
        var (host, agentId, _) = await StartWithAgentAsync();
        await using var _ = host;
        using var unknown = await host.Http.PostAsJsonAsync("/api/runs", new { agent_id = Guid.NewGuid().ToString(), task = "x" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var noTask = await host.Http.PostAsJsonAsync("/api/runs", new { agent_id = agentId });
        Assert.Equal(HttpStatusCode.BadRequest, noTask.StatusCode);
        using var missing = await host.Http.GetAsync($"/api/runs/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Cancel_KillsTheWholeProcessGroup_AndOnlyWorksOnRunningRuns()
    {
        var (host, agentId, stateDir) = await StartWithAgentAsync();
        await using var _ = host;
        var id = (string)(await host.CreateRunAsync(agentId, "SLEEP please"))["id"]!;
        await host.WaitForStatusAsync(id, "running");
        var childPidFile = Path.Combine(stateDir, "child.pid");
        await Eventually.WaitAsync(() => File.Exists(childPidFile) && File.ReadAllText(childPidFile).Trim().Length > 0, TimeSpan.FromSeconds(20), () => "fake CLI never started its child");
        var childPid = int.Parse(File.ReadAllText(childPidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var cliPid = int.Parse(File.ReadAllText(Path.Combine(stateDir, "cli.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ProcFs.IsAlive(childPid));

        using var cancel = await host.Http.PostAsync($"/api/runs/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var run = await host.GetRunAsync(id);
        Assert.Equal("cancelled", (string?)run["status"]);
        await Eventually.WaitAsync(() => !ProcFs.IsAlive(childPid) && !ProcFs.IsAlive(cliPid), TimeSpan.FromSeconds(10), () => "process group survived cancel");
        Assert.Contains(await host.GetEventsAsync(id), e => (string?)e!["event_type"] == "run.cancelled");

        using var again = await host.Http.PostAsync($"/api/runs/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        using var pause = await host.Http.PostAsync($"/api/runs/{id}/pause", null);
        Assert.Equal(HttpStatusCode.Conflict, pause.StatusCode);
    }

    [Fact]
    public async Task Pause_ThenContinue_ResumesTheSessionAndCompletes()
    {
        var (host, agentId, stateDir) = await StartWithAgentAsync();
        await using var _ = host;
        var id = (string)(await host.CreateRunAsync(agentId, "SLEEP then work"))["id"]!;
        await host.WaitForStatusAsync(id, "running");
        await Eventually.WaitAsync(() => File.Exists(Path.Combine(stateDir, "child.pid")), TimeSpan.FromSeconds(20), () => "fake CLI never slept");
        await Eventually.WaitAsync(async () => (await host.GetRunAsync(id))["session_id"] is not null, TimeSpan.FromSeconds(10), () => "no session id");

        using var pause = await host.Http.PostAsync($"/api/runs/{id}/pause", null);
        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        var paused = await host.GetRunAsync(id);
        Assert.Equal("paused", (string?)paused["status"]);
        var sessionId = (string)paused["session_id"]!;
        var pausedEvent = (await host.GetEventsAsync(id)).Last(e => (string?)e!["event_type"] == "run.paused")!;
        Assert.Single(pausedEvent["payload"]!["checkpoint"]!.AsArray());

        using var continued = await host.Http.PostAsJsonAsync($"/api/runs/{id}/continue", new { message = "Please also add tests" });
        Assert.Equal(HttpStatusCode.OK, continued.StatusCode);
        var body = JsonNode.Parse(await continued.Content.ReadAsStringAsync())!;
        Assert.Equal(id, (string?)body["id"]);
        Assert.Contains((string?)body["status"], new[] { "queued", "running" });

        var done = await host.WaitForStatusAsync(id, "completed");
        Assert.Equal(sessionId, (string?)done["session_id"]);
        Assert.Contains(sessionId, File.ReadAllLines(Path.Combine(stateDir, "resume.log")));
        var events = await host.GetEventsAsync(id);
        var userMessage = events.Single(e => (string?)e!["event_type"] == "user.message")!;
        Assert.Equal("Please also add tests", (string?)userMessage["payload"]!["message"]);
        Assert.Contains(events, e => (string?)e!["event_type"] == "agent.message" && ((string?)e["payload"]!["text"])!.StartsWith("Resumed:", StringComparison.Ordinal));
        Assert.Equal(2, events.Count(e => (string?)e!["event_type"] == "run.started" && e["payload"]!["pid"] is not null));
    }

    [Fact]
    public async Task Continue_WithoutSession409_WhileRunning409()
    {
        var (host, agentId, stateDir) = await StartWithAgentAsync();
        await using var _ = host;
        var id = (string)(await host.CreateRunAsync(agentId, "SLEEP"))["id"]!;
        await host.WaitForStatusAsync(id, "running");
        await Eventually.WaitAsync(async () => (await host.GetRunAsync(id))["session_id"] is not null, TimeSpan.FromSeconds(10), () => "no session id");
        using var whileRunning = await host.Http.PostAsJsonAsync($"/api/runs/{id}/continue", new { message = "x" });
        Assert.Equal(HttpStatusCode.Conflict, whileRunning.StatusCode);
        using var deleteRunning = await host.Http.DeleteAsync($"/api/runs/{id}");
        Assert.Equal(HttpStatusCode.Conflict, deleteRunning.StatusCode);
        using var deleteProject = await host.Http.DeleteAsync($"/api/projects/{(string)(await host.GetRunAsync(id))["project_id"]!}");
        Assert.Equal(HttpStatusCode.Conflict, deleteProject.StatusCode);
        await host.PostJsonAsync($"/api/runs/{id}/cancel", new { });

        // A custom CLI never reports a session: continue is refused.
        var project = await host.CreateProjectWithRepoAsync("custom");
        var custom = await host.CreateAgentAsync((string)project["id"]!, new { cli_name = "custom", provider_config = new { command = "echo custom says $BATON_TASK" } });
        var customRun = (string)(await host.CreateRunAsync((string)custom["id"]!, "hello"))["id"]!;
        await host.WaitForStatusAsync(customRun, "completed");
        using var noSession = await host.Http.PostAsJsonAsync($"/api/runs/{customRun}/continue", new { message = "x" });
        Assert.Equal(HttpStatusCode.Conflict, noSession.StatusCode);
        using var logs = await host.Http.GetAsync($"/api/runs/{customRun}/logs");
        Assert.Contains("custom says hello", await logs.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Delete_RemovesWorktreeBranchEventsAndLogs()
    {
        var (host, agentId, _) = await StartWithAgentAsync();
        await using var _ = host;
        var id = (string)(await host.CreateRunAsync(agentId, "quick"))["id"]!;
        await host.WaitForStatusAsync(id, "completed");
        var worktree = host.Git.Service.Workspaces[id].Repos[0].WorktreePath;
        var runDir = Path.Combine(host.DataDir, "runs", id);
        Assert.True(File.Exists(Path.Combine(runDir, "output.log")));
        Assert.True(File.Exists(Path.Combine(runDir, "claude-hooks.json")));
        Assert.True(Directory.Exists(worktree));
        await Eventually.WaitAsync(() => host.Git.Service.ActiveCalls.Contains((id, false)), TimeSpan.FromSeconds(10), () => "never inactive");

        using var delete = await host.Http.DeleteAsync($"/api/runs/{id}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.False(Directory.Exists(runDir));
        Assert.False(Directory.Exists(worktree));
        Assert.False(host.Git.Service.Workspaces.ContainsKey(id));
        using var gone = await host.Http.GetAsync($"/api/runs/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var events = host.Services.GetService(typeof(Baton.Runs.Events.RunEventLog)) as Baton.Runs.Events.RunEventLog;
        Assert.Empty(await events!.ReadAsync(id, 0, 10));
    }

    [Fact]
    public async Task Runs_BeyondTheLimit_WaitQueued_AndStartInFifoOrder()
    {
        var (host, agentId, _) = await StartWithAgentAsync(maxConcurrent: 1);
        await using var _ = host;
        var first = (string)(await host.CreateRunAsync(agentId, "SLEEP first"))["id"]!;
        await host.WaitForStatusAsync(first, "running");
        var second = (string)(await host.CreateRunAsync(agentId, "second"))["id"]!;
        var third = (string)(await host.CreateRunAsync(agentId, "third"))["id"]!;
        Assert.Equal("queued", (string?)(await host.GetRunAsync(second))["status"]);
        Assert.Equal("queued", (string?)(await host.GetRunAsync(third))["status"]);

        using var cancel = await host.Http.PostAsync($"/api/runs/{first}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await host.WaitForStatusAsync(second, "completed");
        await host.WaitForStatusAsync(third, "completed");
        var secondStarted = (long)(await host.GetEventsAsync(second)).First(e => (string?)e!["event_type"] == "run.started")!["id"]!;
        var thirdStarted = (long)(await host.GetEventsAsync(third)).First(e => (string?)e!["event_type"] == "run.started")!["id"]!;
        Assert.True(secondStarted < thirdStarted, "FIFO: the second run starts before the third");
    }

    [Fact]
    public async Task Restart_MarksRunningRunsFailed_AndStartsQueuedOnes()
    {
        var dataDir = RunsHost.NewTempDir("restart");
        await using var git = await FakeGitServer.StartAsync(Path.Combine(dataDir, "worktrees"));
        string runId, queuedId;
        var first = await RunsHost.StartAsync(new RunsHostOptions { DataDir = dataDir, Git = git, MaxConcurrentRuns = 1 });
        try
        {
            var project = await first.CreateProjectWithRepoAsync();
            var agent = await first.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = dataDir } } });
            runId = (string)(await first.CreateRunAsync((string)agent["id"]!, "SLEEP forever"))["id"]!;
            await first.WaitForStatusAsync(runId, "running");
            queuedId = (string)(await first.CreateRunAsync((string)agent["id"]!, "after restart"))["id"]!;
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var second = await RunsHost.StartAsync(new RunsHostOptions { DataDir = dataDir, Git = git, MaxConcurrentRuns = 1 });
        var failed = await second.GetRunAsync(runId);
        Assert.Equal("failed", (string?)failed["status"]);
        Assert.Equal("service restarted", (string?)failed["failure_reason"]);
        await second.WaitForStatusAsync(queuedId, "completed");
    }
}
