// Every route of the gateway's route table, through the gateway, with real ids: its success path and
// its documented error paths. The route table is enumerated from the source of truth
// (tests/Baton.Testing/Routes/RouteTable.cs: the google.api.http annotations in Baton.Contracts plus
// the gateway's own endpoints), and RouteTableSourceTests.RouteTable_EveryRouteHasARow… fails for any
// route without a row here (and for a row whose route is gone).
//
// Adding a route? Add one row to its family's list (CoreRows here; GestaltRows, ChatRows,
// IntegrationsRows in GatewayRouteSuite.<Family>.cs), keyed exactly as the completeness test prints it, e.g.:
//
//     Row("GET /api/chats", c => c.SendJsonAsync("GET", "/api/chats", null, OK), c => c.ErrorAsync("GET", "/api/chats/nope", NotFound)),
//
// The first lambda is the success path, the others the documented errors (status plus the route
// family's error shape, which ErrorAsync checks). `c` is the suite's RouteSuiteFixture: a whole system
// with the real git service, a project with a repo (ProjectId), an agent (AgentId), a completed run
// (CompletedRunId), and helpers for new ones (NewProjectAsync, NewRunAsync, NewRunningRunAsync).
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using static System.Net.HttpStatusCode;

namespace Baton.Gateway.Tests;

[Trait("Category", "Redis")]
public sealed partial class GatewayRouteSuite(RouteSuiteFixture c) : IClassFixture<RouteSuiteFixture>
{
    private delegate Task Step(RouteSuiteFixture c);

    private sealed record RouteRow(string Key, Step Success, Step[] Errors);

    private static RouteRow Row(string key, Step success, params Step[] errors) => new(key, success, errors);

    private static string Unknown => Guid.NewGuid().ToString();

    // One list per family file (GatewayRouteSuite.<Family>.cs); methods, since static fields of partial
    // files initialise in no guaranteed order.
    private static readonly RouteRow[] Rows = [.. CoreRows(), .. GestaltRows(), .. ChatRows(), .. IntegrationsRows()];

    private static RouteRow[] CoreRows() =>
    [
        // ---- gateway: probes, 003_* deployment API, status and metrics (000_*) ----
        Row("GET /health", async c => Assert.Equal("ok", (string?)(await c.SendJsonAsync("GET", "/health", null, OK))!["status"])),
        Row("GET /ready", async c => await c.SendJsonAsync("GET", "/ready", null, OK)),
        Row("GET /api/health", async c => Assert.Equal("ok", (string?)await c.SendJsonAsync("GET", "/api/health", null, OK))),
        Row("GET /api/v2", async c => Assert.NotNull((await c.SendJsonAsync("GET", "/api/v2", null, OK))!["message"])),
        Row("GET /api/v2/buildinfo", async c => Assert.StartsWith("v0.1.0", (string?)(await c.SendJsonAsync("GET", "/api/v2/buildinfo", null, OK))!["version"])),
        Row("POST /api/v2/csp/reports",
            c => c.SendJsonAsync("POST", "/api/v2/csp/reports", new JsonObject { ["csp-report"] = new JsonObject { ["blocked-uri"] = "https://x.example" } }, OK),
            c => c.ErrorAsync("POST", "/api/v2/csp/reports", BadRequest, "{not json")),
        Row("GET /api/v2/deployment/config",
            async c => Assert.NotNull(await c.SendJsonAsync("GET", "/api/v2/deployment/config", null, OK)),
            c => c.ErrorAsync("GET", "/api/v2/deployment/config", Unauthorized, authenticated: false)),
        Row("GET /api/v2/deployment/ssh", async c => Assert.NotNull((await c.SendJsonAsync("GET", "/api/v2/deployment/ssh", null, OK))!["ssh_config_options"])),
        Row("GET /api/v2/deployment/stats", async c => Assert.NotNull((await c.SendJsonAsync("GET", "/api/v2/deployment/stats", null, OK))!["workspaces"])),
        Row("GET /api/v2/experiments", async c => Assert.IsType<JsonArray>(await c.SendJsonAsync("GET", "/api/v2/experiments", null, OK))),
        Row("GET /api/v2/experiments/available", async c => Assert.IsType<JsonArray>(await c.SendJsonAsync("GET", "/api/v2/experiments/available", null, OK))),
        Row("GET /api/v2/updatecheck", async c => Assert.True((bool)(await c.SendJsonAsync("GET", "/api/v2/updatecheck", null, OK))!["current"]!)),
        Row("GET /api/v2/users/{user}/keys/tokens/tokenconfig",
            async c => Assert.True((long)(await c.SendJsonAsync("GET", "/api/v2/users/me/keys/tokens/tokenconfig", null, OK))!["max_token_lifetime"]! > 0),
            c => c.ErrorAsync("GET", "/api/v2/users/somebody-else/keys/tokens/tokenconfig", NotFound, mentions: "somebody-else")),
        Row("GET /api/status",
            async c => Assert.Equal(4, (await c.SendJsonAsync("GET", "/api/status", null, OK))!["services"]!.AsArray().Count),
            c => c.ErrorAsync("GET", "/api/status", Unauthorized, authenticated: false)),
        Row("GET /api/metrics/summary", async c => Assert.NotNull((await c.SendJsonAsync("GET", "/api/metrics/summary", null, OK))!["top_endpoints"])),
        Row("GET /api/logs/stream", LogsSseAsync, c => c.ErrorAsync("GET", "/api/logs/stream", Unauthorized, authenticated: false)),
        Row("GET /ws/logs", LogsWebSocketAsync, c => c.ErrorAsync("GET", "/ws/logs", BadRequest)),

        // ---- integrations (002_*) ----
        Row("GET /api/v1/auth/info", async c => Assert.NotNull(await c.SendJsonAsync("GET", "/api/v1/auth/info", null, OK))),
        Row("GET /api/v1/bindings",
            async c => Assert.IsType<JsonArray>(await c.SendJsonAsync("GET", "/api/v1/bindings", null, OK)),
            c => c.ErrorAsync("GET", "/api/v1/bindings", Unauthorized, authenticated: false)),

        // ---- runs (004_*): projects, agents ----
        Row("POST /api/projects",
            async c => Assert.Equal("made", (string?)(await c.SendJsonAsync("POST", "/api/projects", new { name = "made" }, Created))!["name"]),
            c => c.ErrorAsync("POST", "/api/projects", BadRequest, new { name = "" }, mentions: "name")),
        Row("GET /api/projects", async c => Assert.Contains(c.ProjectId, (await c.SendJsonAsync("GET", "/api/projects", null, OK))!.AsArray().Select(p => (string?)p!["id"]))),
        Row("GET /api/projects/{id}",
            async c => Assert.Equal("app", (string?)(await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}", null, OK))!["repos"]![0]!["name"]),
            c => c.ErrorAsync("GET", $"/api/projects/{Unknown}", NotFound)),
        Row("DELETE /api/projects/{id}",
            async c =>
            {
                var id = await c.NewProjectAsync("doomed");
                await c.SendJsonAsync("DELETE", $"/api/projects/{id}", null, NoContent);
                await c.ErrorAsync("GET", $"/api/projects/{id}", NotFound);
            },
            c => c.ErrorAsync("DELETE", $"/api/projects/{Unknown}", NotFound)),
        Row("POST /api/agents",
            async c => Assert.Equal(100, (int)(await c.SendJsonAsync("POST", "/api/agents", new { project_id = c.ProjectId, name = "defaults" }, Created))!["max_turns"]!),
            c => c.ErrorAsync("POST", "/api/agents", BadRequest, new { project_id = c.ProjectId }, mentions: "name"),
            c => c.ErrorAsync("POST", "/api/agents", BadRequest, new { project_id = c.ProjectId, name = "x", cli_name = "nope" }, mentions: "cli_name")),
        Row("GET /api/agents", async c => Assert.Contains(c.AgentId, (await c.SendJsonAsync("GET", "/api/agents", null, OK))!.AsArray().Select(a => (string?)a!["id"]))),
        Row("GET /api/projects/{project_id}/agents",
            async c => Assert.Contains(c.AgentId, (await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}/agents", null, OK))!.AsArray().Select(a => (string?)a!["id"]))),
        Row("GET /api/agents/{id}",
            async c => Assert.Equal(c.AgentId, (string?)(await c.SendJsonAsync("GET", $"/api/agents/{c.AgentId}", null, OK))!["id"]),
            c => c.ErrorAsync("GET", $"/api/agents/{Unknown}", NotFound)),
        Row("PUT /api/agents/{id}",
            async c =>
            {
                var id = await c.NewAgentAsync(c.ProjectId);
                var updated = await c.SendJsonAsync("PUT", $"/api/agents/{id}", new { name = "Renamed Agent", max_turns = 50 }, OK);
                Assert.Equal(("Renamed Agent", 50), ((string?)updated!["name"], (int)updated["max_turns"]!));
            },
            c => c.ErrorAsync("PUT", $"/api/agents/{c.AgentId}", BadRequest, new { max_turns = -1 }, mentions: "max_turns"),
            c => c.ErrorAsync("PUT", $"/api/agents/{Unknown}", NotFound, new { name = "x" })),
        Row("DELETE /api/agents/{id}",
            async c => await c.SendJsonAsync("DELETE", $"/api/agents/{await c.NewAgentAsync(c.ProjectId)}", null, NoContent),
            c => c.ErrorAsync("DELETE", $"/api/agents/{Unknown}", NotFound)),

        // ---- runs (004_*): runs, their events, hooks, tasks, logs, settings ----
        Row("POST /api/runs",
            async c =>
            {
                var run = await c.SendJsonAsync("POST", "/api/runs", new { agent_id = c.AgentId, task = "created" }, Created);
                Assert.Equal(("queued", "HEAD"), ((string?)run!["status"], (string?)run["source_branch"]));
                await c.WaitForStatusAsync((string)run["id"]!, "completed");
            },
            c => c.ErrorAsync("POST", "/api/runs", NotFound, new { agent_id = Unknown, task = "t" })),
        Row("GET /api/runs", async c => Assert.Contains(c.CompletedRunId, (await c.SendJsonAsync("GET", "/api/runs", null, OK))!.AsArray().Select(r => (string?)r!["id"]))),
        Row("GET /api/runs/{id}",
            async c => Assert.Equal("completed", (string?)(await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}", null, OK))!["status"]),
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}", NotFound)),
        Row("DELETE /api/runs/{id}",
            async c =>
            {
                var id = await c.TakeCompletedRunAsync();
                await c.SendJsonAsync("DELETE", $"/api/runs/{id}", null, NoContent);
                await c.ErrorAsync("GET", $"/api/runs/{id}", NotFound);
            },
            async c =>
            {
                var running = await c.NewRunningRunAsync();
                await c.ErrorAsync("DELETE", $"/api/runs/{running}", Conflict);
                await c.SendJsonAsync("POST", $"/api/runs/{running}/cancel", null, OK);
            },
            c => c.ErrorAsync("DELETE", $"/api/runs/{Unknown}", NotFound)),
        Row("POST /api/runs/{id}/cancel",
            async c =>
            {
                var id = await c.NewRunningRunAsync();
                await c.SendJsonAsync("POST", $"/api/runs/{id}/cancel", null, OK);
                await c.WaitForStatusAsync(id, "cancelled");
            },
            c => c.ErrorAsync("POST", $"/api/runs/{c.CompletedRunId}/cancel", Conflict),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/cancel", NotFound)),
        Row("POST /api/runs/{id}/pause",
            async c =>
            {
                var id = await c.NewRunningRunAsync();
                await c.SendJsonAsync("POST", $"/api/runs/{id}/pause", null, OK);
                await c.WaitForStatusAsync(id, "paused");
            },
            c => c.ErrorAsync("POST", $"/api/runs/{c.CompletedRunId}/pause", Conflict),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/pause", NotFound)),
        Row("POST /api/runs/{id}/continue",
            async c =>
            {
                var id = await c.TakeCompletedRunAsync();
                var run = await c.SendJsonAsync("POST", $"/api/runs/{id}/continue", new { message = "Please also add tests" }, OK);
                Assert.Equal(id, (string?)run!["id"]);
                await c.WaitForStatusAsync(id, "completed", r => (string?)r["status"] == "completed");
                var events = (await c.SendJsonAsync("GET", $"/api/runs/{id}/events", null, OK))!.AsArray();
                Assert.Contains(events, e => (string?)e!["event_type"] == "user.message");
            },
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/continue", NotFound, new { message = "m" })),
        Row("POST /api/runs/{id}/notify",
            async c =>
            {
                await c.SendJsonAsync("POST", $"/api/runs/{c.CompletedRunId}/notify", new { notify = true }, OK);
                Assert.True((bool)(await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}", null, OK))!["notify"]!);
            },
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/notify", NotFound, new { notify = true })),
        Row("POST /api/runs/{id}/hook",
            // Success: the fake CLI's hooks (curl, with the run's secret) went through the gateway's open hook route.
            async c => Assert.Contains((await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/events", null, OK))!.AsArray(),
                e => (string?)e!["event_type"] == "agent.tool_call"),
            c => c.ErrorAsync("POST", $"/api/runs/{c.CompletedRunId}/hook", Unauthorized, new { hook_event_name = "Stop" }, authenticated: false)),
        Row("GET /api/runs/{id}/tasks",
            async c => Assert.Equal(2, (await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/tasks", null, OK))!.AsArray().Count),
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/tasks", NotFound)),
        Row("GET /api/runs/{id}/logs",
            async c =>
            {
                using var response = await c.SendAsync("GET", $"/api/runs/{c.CompletedRunId}/logs");
                Assert.Equal(OK, response.StatusCode);
                Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
                Assert.Contains("session_id", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            },
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/logs", NotFound)),
        Row("GET /api/runs/{id}/events",
            async c => Assert.Equal("run.created", (string?)(await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/events", null, OK))![0]!["event_type"]),
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/events", NotFound)),
        Row("GET /api/runs/{id}/events/stream", RunEventsSseAsync, c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/events/stream", NotFound)),
        Row("GET /api/terminal", EphemeralTerminalAsync,
            c => c.ErrorAsync("GET", "/api/terminal", BadRequest),
            c => TerminalRefusedAsync(c, $"run_id={Unknown}", NotFound)),
        Row("GET /api/settings/models", async c => Assert.NotNull(await c.SendJsonAsync("GET", "/api/settings/models", null, OK))),
        Row("PUT /api/settings/models",
            async c => await c.SendJsonAsync("PUT", "/api/settings/models", (await c.SendJsonAsync("GET", "/api/settings/models", null, OK))!.ToJsonString(), OK),
            c => c.ErrorAsync("PUT", "/api/settings/models", BadRequest, "{not json")),
        Row("GET /api/settings/notifications", async c => Assert.NotNull(await c.SendJsonAsync("GET", "/api/settings/notifications", null, OK))),
        Row("PUT /api/settings/notifications",
            async c => await c.SendJsonAsync("PUT", "/api/settings/notifications", (await c.SendJsonAsync("GET", "/api/settings/notifications", null, OK))!.ToJsonString(), OK),
            c => c.ErrorAsync("PUT", "/api/settings/notifications", BadRequest, "{not json")),

        // ---- git (004_* repos, run changes and branches; 000_* git log and file events) ----
        Row("POST /api/projects/{project_id}/repos",
            async c =>
            {
                var project = (string)(await c.SendJsonAsync("POST", "/api/projects", new { name = "repos" }, Created))!["id"]!;
                var path = GitProcess.CreateRepo(Path.Combine(c.Root, "repo-" + Guid.NewGuid().ToString("N")[..8]));
                var repo = await c.SendJsonAsync("POST", $"/api/projects/{project}/repos", new { name = "backend", repo_path = path }, Created);
                Assert.Equal(path, (string?)repo!["repo_path"]);
                await c.ErrorAsync("POST", $"/api/projects/{project}/repos", Conflict, new { name = "again", repo_path = path });
            },
            c => c.ErrorAsync("POST", $"/api/projects/{c.ProjectId}/repos", BadRequest, new { name = "x", repo_path = "../etc" }, mentions: "absolute"),
            c => c.ErrorAsync("POST", $"/api/projects/{c.ProjectId}/repos", BadRequest, new { name = "x", repo_path = c.Root }, mentions: "git")),
        Row("GET /api/projects/{project_id}/repos",
            async c => Assert.Equal("app", (string?)(await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}/repos", null, OK))![0]!["name"]),
            c => c.ErrorAsync("GET", $"/api/projects/{Unknown}/repos", NotFound)),
        Row("DELETE /api/projects/{project_id}/repos/{repo_id}",
            async c =>
            {
                var project = await c.NewProjectAsync("unrepo");
                var repoId = (string)(await c.SendJsonAsync("GET", $"/api/projects/{project}/repos", null, OK))![0]!["id"]!;
                await c.SendJsonAsync("DELETE", $"/api/projects/{project}/repos/{repoId}", null, NoContent);
                Assert.Empty((await c.SendJsonAsync("GET", $"/api/projects/{project}/repos", null, OK))!.AsArray());
            },
            c => c.ErrorAsync("DELETE", $"/api/projects/{c.ProjectId}/repos/{Unknown}", NotFound)),
        Row("GET /api/runs/{run_id}/changes",
            async c => Assert.Contains((await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/changes", null, OK))!["files"]!.AsArray(),
                f => (string?)f!["path"] == "fake-output.txt"),
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/changes", NotFound)),
        Row("GET /api/runs/{run_id}/diff-stats",
            async c => Assert.True((int)(await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/diff-stats", null, OK))!["files_changed"]! >= 1),
            c => c.ErrorAsync("GET", $"/api/runs/{Unknown}/diff-stats", NotFound)),
        Row("POST /api/runs/{run_id}/commit",
            async c =>
            {
                var id = await CompletedRunOfItsOwnAsync(c);
                await c.SendJsonAsync("POST", $"/api/runs/{id}/commit", new { message = "feat: commit" }, OK);
                await c.ErrorAsync("POST", $"/api/runs/{id}/commit", BadRequest, new { message = "again" }, mentions: "nothing to commit");
            },
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/commit", NotFound, new { message = "m" })),
        Row("POST /api/runs/{run_id}/push",
            async c => Assert.Equal("app", (string?)(await c.SendJsonAsync("POST", $"/api/runs/{await CommittedRunAsync(c)}/push", null, OK))![0]!["repo_name"]),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/push", NotFound)),
        Row("POST /api/runs/{run_id}/pull-request",
            async c =>
            {
                var id = await CommittedRunAsync(c);
                var pr = await c.SendJsonAsync("POST", $"/api/runs/{id}/pull-request", new { title = "feat: add auth", body = "Implements login flow" }, OK);
                Assert.StartsWith("https://github.com/acme/app/pull/", (string?)pr![0]!["pr_url"]);
                await c.ErrorAsync("POST", $"/api/runs/{id}/pull-request", Conflict, new { title = "again" });
            },
            c => c.ErrorAsync("POST", $"/api/runs/{c.CompletedRunId}/pull-request", BadRequest, new { body = "no title" }, mentions: "title"),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/pull-request", NotFound, new { title = "t" })),
        Row("POST /api/runs/{run_id}/rename-branch",
            async c =>
            {
                var id = await CompletedRunOfItsOwnAsync(c);
                var name = "feat/renamed-" + Guid.NewGuid().ToString("N")[..6];
                Assert.Equal(name, (string?)(await c.SendJsonAsync("POST", $"/api/runs/{id}/rename-branch", new { name }, OK))!["repos"]![0]!["branch"]);
            },
            c => c.ErrorAsync("POST", $"/api/runs/{c.CompletedRunId}/rename-branch", BadRequest, new { name = "bad..name" }),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/rename-branch", NotFound, new { name = "x" })),
        Row("POST /api/runs/{run_id}/accept",
            async c => Assert.Equal("app", (string?)(await c.SendJsonAsync("POST", $"/api/runs/{await CommittedRunAsync(c)}/accept", null, OK))![0]!["repo_name"]),
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/accept", NotFound)),
        Row("POST /api/runs/{run_id}/revert",
            async c =>
            {
                var id = await CompletedRunOfItsOwnAsync(c);
                await c.SendJsonAsync("POST", $"/api/runs/{id}/revert", null, OK);
                Assert.Equal(0, (int)(await c.SendJsonAsync("GET", $"/api/runs/{id}/diff-stats", null, OK))!["files_changed"]!);
            },
            c => c.ErrorAsync("POST", $"/api/runs/{Unknown}/revert", NotFound)),
        Row("GET /api/projects/{project_id}/branches",
            async c =>
            {
                var branch = (string)(await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}", null, OK))!["run_branch"]!;
                Assert.Contains((await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}/branches", null, OK))!.AsArray(),
                    b => (string?)b!["name"] == branch && (string?)b["run_id"] == c.CompletedRunId);
            },
            c => c.ErrorAsync("GET", $"/api/projects/{Unknown}/branches", NotFound)),
        Row("DELETE /api/projects/{project_id}/branches",
            async c =>
            {
                var (project, repoId, repo) = await ProjectRepoAsync(c);
                GitProcess.Run(repo, "branch", "to-delete");
                await c.SendJsonAsync("DELETE", $"/api/projects/{project}/branches?branch=to-delete&repo_id={repoId}", null, NoContent);
                Assert.DoesNotContain("to-delete", GitProcess.Run(repo, "branch", "--list"), StringComparison.Ordinal);
            },
            c => c.ErrorAsync("DELETE", $"/api/projects/{c.ProjectId}/branches?branch=main", BadRequest, mentions: "default branch"),
            c => c.ErrorAsync("DELETE", $"/api/projects/{c.ProjectId}/branches?branch=no-such-branch", NotFound)),
        Row("POST /api/projects/{project_id}/branches/merge",
            async c =>
            {
                var (project, repoId, repo) = await ProjectRepoAsync(c);
                GitProcess.Run(repo, "branch", "feature");
                GitProcess.Run(repo, "worktree", "add", "-q", Path.Combine(c.Root, "wt-" + Guid.NewGuid().ToString("N")[..8]), "feature");
                var worktree = GitProcess.Run(repo, "worktree", "list", "--porcelain").Split('\n').Last(l => l.StartsWith("worktree ", StringComparison.Ordinal))["worktree ".Length..];
                GitProcess.Commit(worktree, "feature.txt", "f\n", "feature work");
                GitProcess.Run(repo, "worktree", "remove", "--force", worktree);
                await c.SendJsonAsync("POST", $"/api/projects/{project}/branches/merge?branch=feature&repo_id={repoId}", null, OK);
                Assert.True(File.Exists(Path.Combine(repo, "feature.txt")) || GitProcess.Run(repo, "ls-tree", "--name-only", "main").Contains("feature.txt", StringComparison.Ordinal));
            },
            c => c.ErrorAsync("POST", $"/api/projects/{c.ProjectId}/branches/merge?branch=no-such-branch", NotFound)),
        Row("POST /api/projects/{project_id}/branches/rebase",
            async c =>
            {
                var (project, repoId, repo) = await ProjectRepoAsync(c);
                GitProcess.Run(repo, "branch", "topic");
                GitProcess.Commit(repo, "main.txt", "m\n", "main moves on");
                await c.SendJsonAsync("POST", $"/api/projects/{project}/branches/rebase?branch=topic&repo_id={repoId}", null, OK);
                Assert.Equal(GitProcess.Head(repo, "main"), GitProcess.Run(repo, "merge-base", "main", "topic").Trim());
            },
            c => c.ErrorAsync("POST", $"/api/projects/{c.ProjectId}/branches/rebase?branch=no-such-branch", NotFound)),
        Row("GET /api/projects/{project_id}/branches/pr-status",
            async c => Assert.IsType<JsonArray>(await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}/branches/pr-status", null, OK)),
            c => c.ErrorAsync("GET", $"/api/projects/{Unknown}/branches/pr-status", NotFound)),
        Row("GET /api/git/log",
            async c => Assert.Single((await c.SendJsonAsync("GET", "/api/git/log?limit=1", null, OK))!["commits"]!.AsArray()),
            c => c.ErrorAsync("GET", "/api/git/log?limit=0", BadRequest, mentions: "limit")),
        Row("GET /ws/events", FileEventsWebSocketAsync, c => c.ErrorAsync("GET", "/ws/events", BadRequest)),
    ];

    public static TheoryData<string> RouteKeys => [.. Rows.Select(r => r.Key)];

    /// <summary>The routes this suite has a row for (RouteTableSourceTests checks them against the route table).</summary>
    internal static IReadOnlyList<string> RowKeys => [.. Rows.Select(r => r.Key)];

    [Theory]
    [MemberData(nameof(RouteKeys))]
    public async Task Route_ThroughTheGateway_SucceedsAndAnswersItsDocumentedErrors(string route)
    {
        var row = Rows.Single(r => r.Key == route);
        await row.Success(c);
        foreach (var error in row.Errors)
        {
            await error(c);
        }
    }

    // ---- the longer paths ----

    /// <summary>A run of its own (so changing its branch disturbs no other row) that completed with a change in its worktree.</summary>
    private static Task<string> CompletedRunOfItsOwnAsync(RouteSuiteFixture c) => c.TakeCompletedRunAsync();

    private static async Task<string> CommittedRunAsync(RouteSuiteFixture c)
    {
        var id = await CompletedRunOfItsOwnAsync(c);
        await c.SendJsonAsync("POST", $"/api/runs/{id}/commit", new { message = "feat: from the run" }, OK);
        return id;
    }

    private static async Task<(string Project, string RepoId, string RepoPath)> ProjectRepoAsync(RouteSuiteFixture c)
    {
        var project = await c.NewProjectAsync("branches");
        var repo = (await c.SendJsonAsync("GET", $"/api/projects/{project}/repos", null, OK))![0]!;
        return (project, (string)repo["id"]!, (string)repo["repo_path"]!);
    }

    private static async Task LogsSseAsync(RouteSuiteFixture c)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/logs/stream");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await c.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var marker = Guid.NewGuid().ToString("N");
        await using var reporting = BackgroundLoop.Repeat(async ct =>
        {
            using var _ = await c.SendAsync("POST", "/api/v2/csp/reports", new JsonObject { ["csp-report"] = new JsonObject { ["m"] = marker } });
        }, TimeSpan.FromMilliseconds(250), timeout.Token);
        SseFrame? frame;
        do
        {
            frame = await reporting.WatchAsync(sse.ReadFrameAsync(timeout.Token));
            Assert.NotNull(frame);
        }
        while (!frame.Data.Contains(marker, StringComparison.Ordinal));
        Assert.NotNull(frame.Id);
    }

    private static async Task LogsWebSocketAsync(RouteSuiteFixture c)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await ConnectAsync(c, "/ws/logs", timeout.Token);
        var marker = Guid.NewGuid().ToString("N");
        await using var reporting = BackgroundLoop.Repeat(async ct =>
        {
            using var _ = await c.SendAsync("POST", "/api/v2/csp/reports", new JsonObject { ["csp-report"] = new JsonObject { ["m"] = marker } });
        }, TimeSpan.FromMilliseconds(250), timeout.Token);
        string text;
        do
        {
            text = await reporting.WatchAsync(ReceiveTextAsync(socket, timeout.Token));
        }
        while (!text.Contains(marker, StringComparison.Ordinal));
        Assert.NotNull(JsonNode.Parse(text)!["message"]);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    private static async Task RunEventsSseAsync(RouteSuiteFixture c)
    {
        var events = (await c.SendJsonAsync("GET", $"/api/runs/{c.CompletedRunId}/events", null, OK))!.AsArray();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await c.Http.GetAsync($"/api/runs/{c.CompletedRunId}/events/stream?last_event_id=0", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var ids = new List<long>();
        while (await sse.ReadFrameAsync(timeout.Token) is { } frame)
        {
            if (frame.Data.Length > 0)
            {
                ids.Add((long)JsonNode.Parse(frame.Data)!["id"]!);
            }
        }
        // A finished run's stream replays every event once, in order, and ends.
        Assert.Equal(events.Select(e => (long)e!["id"]!), ids);
    }

    /// <summary>The ephemeral terminal (no run_id): a shell in a PTY of the asked size and folder, killed when its viewer leaves.</summary>
    private static async Task EphemeralTerminalAsync(RouteSuiteFixture c)
    {
        var cwd = TestEnvironment.NewDirectory("baton-eph");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await ConnectAsync(c, $"/api/terminal?cwd={Uri.EscapeDataString(cwd)}&cli=/bin/sh&cols=80&rows=24", timeout.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("pwd; stty size\n"), WebSocketMessageType.Binary, true, timeout.Token);
        var output = new StringBuilder();
        while (!(output.ToString().Contains(cwd, StringComparison.Ordinal) && output.ToString().Contains("24 80", StringComparison.Ordinal)))
        {
            output.Append(await ReceiveTextAsync(socket, timeout.Token));
        }
        Assert.True(await EphemeralSessionsAsync(c) >= 1, "the terminal is counted while its viewer is there");
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await Eventually.WaitAsync(async () => await EphemeralSessionsAsync(c) == 0, TimeSpan.FromSeconds(30), "the ephemeral terminal ended with its viewer");
    }

    private static async Task<long> EphemeralSessionsAsync(RouteSuiteFixture c)
    {
        var status = (await c.SendJsonAsync("GET", "/api/status", null, OK))!;
        var runs = status["services"]!.AsArray().Single(s => (string?)s!["name"] == "runs")!;
        return long.Parse(runs["status"]!["counters"]!["sessions_active"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task TerminalRefusedAsync(RouteSuiteFixture c, string query, HttpStatusCode expected)
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + c.System.Token);
        socket.Options.CollectHttpResponseDetails = true;
        var error = await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(new UriBuilder(c.System.GatewayUrl) { Scheme = "ws", Path = "/api/terminal", Query = query }.Uri, CancellationToken.None));
        Assert.True(socket.HttpStatusCode == expected, $"{query}: {socket.HttpStatusCode} {error.Message}");
    }

    private static async Task FileEventsWebSocketAsync(RouteSuiteFixture c)
    {
        var repo = (string)(await c.SendJsonAsync("GET", $"/api/projects/{c.ProjectId}/repos", null, OK))![0]!["repo_path"]!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await ConnectAsync(c, "/ws/events", timeout.Token);
        var file = Path.Combine(repo, "touched-" + Guid.NewGuid().ToString("N")[..6] + ".txt");
        var i = 0;
        await using var writer = BackgroundLoop.Repeat(ct => File.WriteAllTextAsync(file, (i++).ToString(System.Globalization.CultureInfo.InvariantCulture), ct),
            TimeSpan.FromMilliseconds(300), timeout.Token);
        JsonNode frame;
        do
        {
            frame = JsonNode.Parse(await writer.WatchAsync(ReceiveTextAsync(socket, timeout.Token)))!;
        }
        while ((string?)frame["path"] != file);
        Assert.Equal("file-change", (string?)frame["type"]);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        File.Delete(file);
    }

    private static async Task<ClientWebSocket> ConnectAsync(RouteSuiteFixture c, string pathAndQuery, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + c.System.Token);
        var uri = new Uri(new UriBuilder(c.System.GatewayUrl) { Scheme = "ws" }.Uri, pathAndQuery);
        await socket.ConnectAsync(uri, cancellationToken);
        return socket;
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, cancellationToken);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return Encoding.UTF8.GetString(message.ToArray());
    }
}
