using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Runs.Tests;

/// <summary>The whole system through the gateway (launcher harness), with the real git service and the fake claude CLI.</summary>
[Trait("Category", "Redis")]
public sealed class ThroughGatewayTests
{
    private static async Task<(BatonSystem System, HttpClient Http)> StartAsync()
    {
        var options = new BatonLaunchOptions();
        options.Environment["BATON_CLAUDE_COMMAND"] = RunsHost.FakeClaudePath;
        options.Environment["BATON_KILL_GRACE_SECONDS"] = "1";
        options.Environment["BATON_KEEPALIVE_SECONDS"] = "1";
        var system = await BatonSystem.StartAsync(options);
        return (system, system.CreateClient());
    }

    /// <summary>A project with one repository, added through the gateway to the real git service, as a client does.</summary>
    private static async Task<string> CreateProjectWithRepoAsync(HttpClient http, string dataDir, string name)
    {
        using var projectResponse = await http.PostAsJsonAsync("/api/projects", new { name });
        Assert.Equal(HttpStatusCode.Created, projectResponse.StatusCode);
        var projectId = (string)JsonNode.Parse(await projectResponse.Content.ReadAsStringAsync())!["id"]!;
        var repoPath = GitProcess.CreateRepo(Path.Combine(dataDir, "repo-" + Guid.NewGuid().ToString("N")[..8]));
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repoPath });
        Assert.True(repoResponse.StatusCode == HttpStatusCode.Created, await repoResponse.Content.ReadAsStringAsync());
        return projectId;
    }

    private static async Task<string> CreateRunAsync(HttpClient http, string dataDir, string task)
    {
        var projectId = await CreateProjectWithRepoAsync(http, dataDir, "gw");
        using var agentResponse = await http.PostAsJsonAsync("/api/agents", new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "b",
            ["provider_config"] = new JsonObject { ["env"] = new JsonObject { ["FAKE_STATE_DIR"] = dataDir } },
        });
        Assert.Equal(HttpStatusCode.Created, agentResponse.StatusCode);
        var agent = JsonNode.Parse(await agentResponse.Content.ReadAsStringAsync())!;
        // env values are masked in responses (issue 13); the CLI still receives the real one.
        Assert.True((string?)agent["provider_config"]?["env"]?["FAKE_STATE_DIR"] == "********", agent.ToJsonString());
        var agentId = (string)agent["id"]!;
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task });
        Assert.Equal(HttpStatusCode.Created, runResponse.StatusCode);
        var run = JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!;
        Assert.Equal("queued", (string?)run["status"]);
        return (string)run["id"]!;
    }

    [Fact]
    public async Task Run_ThroughGateway_HooksReachTheService_SseResumesByLastEventId_ErrorsArePlainText()
    {
        var (system, http) = await StartAsync();
        await using var _ = system;
        using var __ = http;
        var runId = await CreateRunAsync(http, system.DataDir, "gateway TOKENS:500 TASKS");

        // The run completes; the fake CLI's hooks went through the gateway's open hook route with the run secret.
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"] == "completed",
            TimeSpan.FromSeconds(60), "run completed");
        var events = JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}/events"))!.AsArray();
        Assert.True(events.Any(e => (string?)e!["event_type"] == "agent.tool_call"), system.Output);
        var tasks = JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}/tasks"))!.AsArray();
        Assert.Equal(2, tasks.Count);

        // SSE from the middle (Last-Event-ID header): every later event once, in order, then a clean end.
        var middle = (long)events[events.Count / 2]!["id"]!;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{runId}/events/stream");
        request.Headers.Add("Last-Event-ID", middle.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ids = new List<long>();
        var sawRetry = false;
        while (await reader.ReadFrameAsync(timeout.Token) is { } frame)
        {
            sawRetry |= frame.Retry is not null;
            if (frame.Data.Length == 0)
            {
                continue;
            }
            var data = JsonNode.Parse(frame.Data)!;
            Assert.Equal(frame.Id, ((long)data["id"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.IsType<JsonObject>(data["payload"]);
            ids.Add((long)data["id"]!);
        }
        Assert.True(sawRetry);
        Assert.Equal(events.Select(e => (long)e!["id"]!).Where(id => id > middle), ids);

        // Query form, after the last event of a finished run: the stream ends at once.
        using var empty = await http.GetAsync($"/api/runs/{runId}/events/stream?last_event_id={ids[^1]}");
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);

        // 004_* errors are plain text through the gateway.
        using var conflict = await http.PostAsync($"/api/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.StartsWith("text/plain", conflict.Content.Headers.ContentType?.ToString());
        using var missing = await http.GetAsync($"/api/runs/{Guid.NewGuid()}/events/stream");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // The hook route is open at the gateway but the run secret is still required.
        using var anonymous = system.CreateClient(authenticated: false);
        using var hook = await anonymous.PostAsync($"/api/runs/{runId}/hook", Text.Json("{\"hook_event_name\":\"Stop\"}"));
        Assert.Equal(HttpStatusCode.Unauthorized, hook.StatusCode);
    }

    [Fact]
    public async Task Terminal_WebSocketThroughGateway_TwoViewersShareThePty_JsonResize()
    {
        var (system, http) = await StartAsync();
        await using var _ = system;
        using var __ = http;
        var projectId = await CreateProjectWithRepoAsync(http, system.DataDir, "term");
        var agentBody = new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "t",
            ["cli_name"] = "custom",
            ["provider_config"] = new JsonObject { ["command"] = "echo ready; while IFS= read -r l; do if [ \"$l\" = size ]; then stty size; else echo \"got:$l\"; fi; done" },
        };
        using var agentResponse = await http.PostAsync("/api/agents", Text.Json(agentBody.ToJsonString()));
        Assert.Equal(HttpStatusCode.Created, agentResponse.StatusCode);
        var agentId = (string)JsonNode.Parse(await agentResponse.Content.ReadAsStringAsync())!["id"]!;
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "t" });
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"] == "running",
            TimeSpan.FromSeconds(30), "run running");

        var url = new Uri($"ws://{system.GatewayUrl.Authority}/api/terminal?run_id={runId}&token={system.Token}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var first = new ClientWebSocket();
        await first.ConnectAsync(url, timeout.Token);
        using var second = new ClientWebSocket();
        await second.ConnectAsync(url, timeout.Token);
        var firstText = new StringBuilder();
        var secondText = new StringBuilder();
        var firstReading = ReadAllAsync(first, firstText, timeout.Token);
        var secondReading = ReadAllAsync(second, secondText, timeout.Token);

        await first.SendAsync(Encoding.UTF8.GetBytes("hello\n"), WebSocketMessageType.Binary, true, timeout.Token);
        await Eventually.WaitAsync(() => Task.FromResult(Snapshot(secondText).Contains("got:hello", StringComparison.Ordinal)), TimeSpan.FromSeconds(15), "second viewer sees the first one's input");
        await second.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"resize\",\"cols\":101,\"rows\":33}"), WebSocketMessageType.Text, true, timeout.Token);
        await second.SendAsync(Encoding.UTF8.GetBytes("size\n"), WebSocketMessageType.Binary, true, timeout.Token);
        await Eventually.WaitAsync(() => Task.FromResult(Snapshot(firstText).Contains("33 101", StringComparison.Ordinal)), TimeSpan.FromSeconds(15), "resize reached the child");

        using var cancel = await http.PostAsync($"/api/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await firstReading.WaitAsync(TimeSpan.FromSeconds(15));
        await secondReading.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, first.CloseStatus);
    }

    private static string Snapshot(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private static async Task ReadAllAsync(ClientWebSocket socket, StringBuilder text, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
            lock (text)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
        }
    }

    [Fact]
    public async Task Run_WithTheRealGitService_CreatesAWorktree_PausesWithACheckpoint_IsTakenOverInATerminal_AndDeletes()
    {
        var options = new BatonLaunchOptions();
        options.Environment["BATON_CLAUDE_COMMAND"] = RunsHost.FakeClaudePath;
        options.Environment["BATON_KILL_GRACE_SECONDS"] = "1";
        await using var system = await BatonSystem.StartAsync(options);
        using var http = system.CreateClient();
        using var projectResponse = await http.PostAsJsonAsync("/api/projects", new { name = "real-git" });
        Assert.Equal(HttpStatusCode.Created, projectResponse.StatusCode);
        var projectId = (string)JsonNode.Parse(await projectResponse.Content.ReadAsStringAsync())!["id"]!;
        var repoPath = GitProcess.CreateRepo(Path.Combine(system.DataDir, "real-repo"));
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repoPath });
        Assert.True(repoResponse.StatusCode == HttpStatusCode.Created, await repoResponse.Content.ReadAsStringAsync());
        var project = JsonNode.Parse(await http.GetStringAsync($"/api/projects/{projectId}"))!;
        Assert.Equal("app", (string?)project["repos"]![0]!["name"]);

        var agentBody = new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "b",
            ["provider_config"] = new JsonObject { ["env"] = new JsonObject { ["FAKE_STATE_DIR"] = system.DataDir } },
        };
        using var agentResponse = await http.PostAsync("/api/agents", Text.Json(agentBody.ToJsonString()));
        var agentId = (string)JsonNode.Parse(await agentResponse.Content.ReadAsStringAsync())!["id"]!;
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "SLEEP real" });
        var run = JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!;
        var runId = (string)run["id"]!;
        await Eventually.WaitAsync(async () => JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["session_id"] is JsonValue,
            TimeSpan.FromSeconds(60), "run running with a session");
        await Eventually.WaitAsync(() => Task.FromResult(File.Exists(Path.Combine(system.DataDir, "child.pid"))), TimeSpan.FromSeconds(30), "the CLI wrote its file and sleeps");
        var branches = GitCli.Run(repoPath, "branch", "--list");
        Assert.Contains((string)run["run_branch"]!, branches);

        using var pause = await http.PostAsync($"/api/runs/{runId}/pause", null);
        Assert.True(pause.StatusCode == HttpStatusCode.OK, await pause.Content.ReadAsStringAsync());
        var events = JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}/events"))!.AsArray();
        var paused = events.Last(e => (string?)e!["event_type"] == "run.paused")!;
        Assert.True(paused["payload"]!["checkpoint"] is JsonArray { Count: 1 }, paused.ToJsonString());

        // A person takes over the paused run in a terminal: the CLI resumes its session interactively
        // in the worktree, and its hooks (through the gateway) drive the run.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var terminal = new ClientWebSocket();
        await terminal.ConnectAsync(new Uri($"ws://{system.GatewayUrl.Authority}/api/terminal?run_id={runId}&token={system.Token}"), timeout.Token);
        var text = new StringBuilder();
        var reading = ReadAllAsync(terminal, text, timeout.Token);
        var sessionId = (string)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["session_id"]!;
        await Eventually.WaitAsync(() => Task.FromResult(Snapshot(text).Contains($"fake-claude interactive, session {sessionId}", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the interactive CLI resumed the run's session");
        await terminal.SendAsync(Encoding.UTF8.GetBytes("hi there\n"), WebSocketMessageType.Binary, true, timeout.Token);
        await Eventually.WaitAsync(() => Task.FromResult(Snapshot(text).Contains("you said: hi there", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the CLI answered");
        await Eventually.WaitAsync(async () => JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}/events"))!.AsArray()
            .Count(e => (string?)e!["event_type"] == "run.paused") == 2, TimeSpan.FromSeconds(30), "the Stop hook paused the run again");
        await terminal.SendAsync(Encoding.UTF8.GetBytes("/exit\n"), WebSocketMessageType.Binary, true, timeout.Token);
        await reading.WaitAsync(TimeSpan.FromSeconds(30));
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"] == "completed",
            TimeSpan.FromSeconds(30), "the run completed when the CLI ended its session");

        using var delete = await http.DeleteAsync($"/api/runs/{runId}");
        Assert.True(delete.StatusCode == HttpStatusCode.NoContent, await delete.Content.ReadAsStringAsync());
        Assert.DoesNotContain((string)run["run_branch"]!, GitCli.Run(repoPath, "branch", "--list"));
    }
}
