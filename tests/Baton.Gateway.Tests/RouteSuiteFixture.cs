using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Git.Tests;

namespace Baton.Gateway.Tests;

/// <summary>
/// The whole system with the real git service, the fake Claude Code CLI and a fake GitHub, plus the
/// data most routes need: a project whose repo has an origin, an agent, and a completed run.
/// </summary>
public sealed partial class RouteSuiteFixture : IAsyncLifetime
{
    public string Root { get; } = TestEnvironment.NewDirectory("baton-routes");
    public BatonSystem System { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public FakeGitHub GitHub { get; private set; } = null!;
    public string ProjectId { get; private set; } = "";
    public string AgentId { get; private set; } = "";
    /// <summary>A run of the fake CLI that completed (with TaskCreate/TaskUpdate hooks and a file it wrote).</summary>
    public string CompletedRunId { get; private set; } = "";

    public static string FakeClaudePath => Path.Combine(AppContext.BaseDirectory, "Fakes", "fake-claude.sh");

    public async Task InitializeAsync()
    {
        GitHub = await FakeGitHub.StartAsync();
        var options = new BatonLaunchOptions { WorkDir = GitProcess.CreateRepo(Path.Combine(Root, "workdir")) };
        options.Environment["BATON_CLAUDE_COMMAND"] = FakeClaudePath;
        options.Environment["BATON_KILL_GRACE_SECONDS"] = "1";
        options.Environment["BATON_KEEPALIVE_SECONDS"] = "1";
        options.Environment["BATON_MAX_CONCURRENT_RUNS"] = "8";
        options.Environment["BATON_GITHUB_API_URL"] = GitHub.BaseUrl;
        options.Environment["BATON_GITHUB_TOKEN"] = FakeGitHub.Token;
        await ConfigureGestaltAsync(options);
        await ConfigureChatAsync(options);
        await ConfigureIntegrationsAsync(options);
        System = await BatonSystem.StartAsync(options);
        Http = System.CreateClient();
        await SeedGestaltAsync();
        await SeedChatAsync();
        await SeedIntegrationsAsync();
        ProjectId = await NewProjectAsync("routes");
        AgentId = await NewAgentAsync(ProjectId);
        CompletedRunId = await NewRunAsync("plan TASKS TOKENS:3");
        // Rows that change a run's branch each take a completed run of their own; they finish meanwhile.
        for (var i = 0; i < CompletedRunPoolSize; i++)
        {
            _completedRuns.Enqueue(NewCompletedRunAsync());
        }
        await WaitForStatusAsync(CompletedRunId, "completed");
    }

    private const int CompletedRunPoolSize = 9;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Task<string>> _completedRuns = new();

    /// <summary>A completed run nobody else uses (it has a change in its worktree: the file the fake CLI wrote).</summary>
    public Task<string> TakeCompletedRunAsync() => _completedRuns.TryDequeue(out var run) ? run : NewCompletedRunAsync();

    private async Task<string> NewCompletedRunAsync()
    {
        var id = await NewRunAsync("own " + Guid.NewGuid().ToString("N")[..6]);
        await WaitForStatusAsync(id, "completed");
        return id;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await System.DisposeAsync();
        await DisposeGestaltAsync();
        await DisposeChatAsync();
        await DisposeIntegrationsAsync();
        await GitHub.DisposeAsync();
        TestEnvironment.DeleteQuietly(Root);
    }

    /// <summary>A project (runs) with one repository (git, through the gateway) that has a bare origin.</summary>
    public async Task<string> NewProjectAsync(string name = "p")
    {
        var project = await SendJsonAsync("POST", "/api/projects", new { name }, HttpStatusCode.Created);
        var projectId = (string)project!["id"]!;
        var folder = Path.Combine(Root, Guid.NewGuid().ToString("N")[..8]);
        var repo = GitProcess.CreateRepo(Path.Combine(folder, "app"), bareRemote: Path.Combine(folder, "remotes", "acme", "app.git"));
        await SendJsonAsync("POST", $"/api/projects/{projectId}/repos", new { name = "app", repo_path = repo }, HttpStatusCode.Created);
        return projectId;
    }

    public async Task<string> NewAgentAsync(string projectId, JsonObject? extra = null)
    {
        var body = new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "builder",
            ["provider_config"] = new JsonObject { ["env"] = new JsonObject { ["FAKE_STATE_DIR"] = TestEnvironment.NewDirectory("baton-fake-state") } },
        };
        foreach (var (key, value) in extra ?? [])
        {
            body[key] = value?.DeepClone();
        }
        return (string)(await SendJsonAsync("POST", "/api/agents", body, HttpStatusCode.Created))!["id"]!;
    }

    /// <summary>A run of the shared agent (or <paramref name="agentId"/>): "SLEEP" keeps it running.</summary>
    public async Task<string> NewRunAsync(string task, string? agentId = null) =>
        (string)(await SendJsonAsync("POST", "/api/runs", new { agent_id = agentId ?? AgentId, task }, HttpStatusCode.Created))!["id"]!;

    public async Task<JsonNode> WaitForStatusAsync(string runId, string status, Func<JsonNode, bool>? also = null)
    {
        JsonNode? run = null;
        await Eventually.WaitAsync(async () =>
        {
            run = JsonNode.Parse(await Http.GetStringAsync($"/api/runs/{runId}"))!;
            return (string?)run["status"] == status && (also?.Invoke(run) ?? true);
        }, TimeSpan.FromSeconds(60), () => $"run {runId} never reached {status}: {run?.ToJsonString()}\n{System.Output[^Math.Min(System.Output.Length, 4000)..]}");
        return run!;
    }

    /// <summary>A running run of the fake CLI that has reported its session (so it can be paused and continued).</summary>
    public async Task<string> NewRunningRunAsync()
    {
        var runId = await NewRunAsync("SLEEP");
        await WaitForStatusAsync(runId, "running", r => r["session_id"] is JsonValue);
        return runId;
    }

    public async Task<HttpResponseMessage> SendAsync(string method, string path, object? body = null, bool authenticated = true)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is string raw)
        {
            request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (!authenticated)
        {
            request.Headers.Authorization = null;
            using var anonymous = System.CreateClient(authenticated: false);
            return await anonymous.SendAsync(request);
        }
        return await Http.SendAsync(request);
    }

    /// <summary>Sends and asserts the status; the JSON answer (null when there is no body).</summary>
    public async Task<JsonNode?> SendJsonAsync(string method, string path, object? body, HttpStatusCode expected)
    {
        using var response = await SendAsync(method, path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    /// <summary>Sends and asserts a documented error: its status, and the error shape of the path's route family.</summary>
    public async Task ErrorAsync(string method, string path, HttpStatusCode expected, object? body = null, string? mentions = null, bool authenticated = true)
    {
        using var response = await SendAsync(method, path, body, authenticated);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        AssertErrorShape(RouteTable.Classify(new Uri(System.GatewayUrl, path).AbsolutePath), response.Content.Headers.ContentType, text, $"{method} {path}");
        if (mentions is not null)
        {
            Assert.Contains(mentions, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    public static void AssertErrorShape(RouteFamily family, MediaTypeHeaderValue? contentType, string text, string what)
    {
        Assert.False(string.IsNullOrWhiteSpace(text), $"{what}: an error says what is wrong");
        if (family is RouteFamily.Runs or RouteFamily.Plain)
        {
            Assert.True(contentType?.MediaType == "text/plain", $"{what}: 004_* errors are plain text, got {contentType}: {text}");
            return;
        }
        var json = JsonNode.Parse(text)!.AsObject();
        string[] fields = family switch
        {
            RouteFamily.Gestalt => ["message", "error", "code"],
            RouteFamily.Chat => ["detail"],
            RouteFamily.Integrations => ["error"],
            RouteFamily.Deployment => ["message", "detail", "validations"],
            _ => [],
        };
        Assert.All(fields, f => Assert.True(json.ContainsKey(f), $"{what}: a {family} error has \"{f}\": {text}"));
    }
}
