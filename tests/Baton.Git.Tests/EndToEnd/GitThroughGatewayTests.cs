using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;
using Baton.Testing;

namespace Baton.Git.Tests.EndToEnd;

/// <summary>The whole system (launcher, gateway, services): git's routes through the gateway with the admin token.</summary>
public sealed class GitSystemFixture : IAsyncLifetime
{
    public string Root { get; } = TestEnvironment.NewDirectory("baton-git-system");
    public BatonSystem System { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public GitService.GitServiceClient Grpc { get; private set; } = null!;
    public FakeGitHub GitHub { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var workDir = TestGit.CreateRepo(Root, "workdir");
        GitHub = await FakeGitHub.StartAsync();
        var options = new BatonLaunchOptions { WorkDir = workDir };
        options.Environment["BATON_GITHUB_API_URL"] = GitHub.BaseUrl;
        options.Environment["BATON_GITHUB_TOKEN"] = FakeGitHub.Token;
        System = await BatonSystem.StartAsync(options);
        Http = System.CreateClient();
        Grpc = new GitService.GitServiceClient(System.CreateGrpcChannel());
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await System.DisposeAsync();
        await GitHub.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class GitSystemCollection : ICollectionFixture<GitSystemFixture>
{
    public const string Name = "git system";
}

[Collection(GitSystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class GitThroughGatewayTests(GitSystemFixture fx)
{
    private async Task<string> NewProjectAsync()
    {
        var id = Guid.NewGuid().ToString();
        await fx.Grpc.RegisterProjectAsync(new ProjectRef { ProjectId = id });
        return id;
    }

    [Fact]
    public async Task Repos_ThroughGateway_201ThenPlainText400And409()
    {
        var project = await NewProjectAsync();
        var repo = TestGit.CreateRepo(fx.Root, "sys-" + Guid.NewGuid().ToString("N")[..6]);

        var created = await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "backend", repo_path = repo });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var json = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.Equal(repo, json["repo_path"]!.GetValue<string>());

        var duplicate = await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "again", repo_path = repo });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);

        var relative = await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "x", repo_path = "../etc" });
        Assert.Equal(HttpStatusCode.BadRequest, relative.StatusCode);
        Assert.Contains("absolute", await relative.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var deleted = await fx.Http.DeleteAsync($"/api/projects/{project}/repos/{json["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task GitLog_ThroughGateway_ReadsWorkDir_AndInvalidLimitIsGestaltError()
    {
        var log = JsonNode.Parse(await fx.Http.GetStringAsync("/api/git/log?limit=1"))!;
        Assert.Equal("main", log["branch"]!.GetValue<string>());
        Assert.Single(log["commits"]!.AsArray());

        var bad = await fx.Http.GetAsync("/api/git/log?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var error = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
        Assert.Equal("invalid limit", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task RunWorkspace_ChangesAndCommit_ThroughGateway()
    {
        var project = await NewProjectAsync();
        var repo = TestGit.CreateRepo(fx.Root, "run-" + Guid.NewGuid().ToString("N")[..6]);
        (await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "app", repo_path = repo })).EnsureSuccessStatusCode();
        var runId = Guid.NewGuid().ToString();
        var workspace = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runId, ProjectId = project });
        Assert.StartsWith(Path.Combine(fx.System.DataDir, "runs", runId, "worktree"), workspace.Repos[0].WorktreePath, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(workspace.Repos[0].WorktreePath, "new.txt"), "1\n2\n");

        var stats = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/runs/{runId}/diff-stats"))!;
        Assert.Equal(1, stats["files_changed"]!.GetValue<int>());
        Assert.Equal(2, stats["insertions"]!.GetValue<int>());

        var commit = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/commit", new { message = "feat: x" });
        Assert.Equal(HttpStatusCode.OK, commit.StatusCode);
        var nothing = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/commit", new { message = "feat: y" });
        Assert.Equal(HttpStatusCode.BadRequest, nothing.StatusCode);
        Assert.Equal("nothing to commit", (await nothing.Content.ReadAsStringAsync()).Trim());

        var branches = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/projects/{project}/branches"))!.AsArray();
        Assert.Contains(branches, b => b!["run_id"]!.GetValue<string>() == runId);
        await fx.Grpc.DeleteWorkspaceAsync(new RunRef { RunId = runId });
        Assert.False(Directory.Exists(workspace.Repos[0].WorktreePath));
    }

    [Fact]
    public async Task MergeConflict_AndPullRequest_ThroughGateway()
    {
        var project = await NewProjectAsync();
        var folder = Path.Combine(fx.Root, "m-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(folder);
        var repo = TestGit.CreateRepo(folder, "app", withRemote: true);
        (await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "app", repo_path = repo })).EnsureSuccessStatusCode();
        var runId = Guid.NewGuid().ToString();
        var workspace = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runId, ProjectId = project });
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "README.md", "run\n", "run edit");
        TestGit.Commit(repo, "README.md", "main\n", "main edit");
        var mainBefore = TestGit.Head(repo, "main");

        var merge = await fx.Http.PostAsync($"/api/projects/{project}/branches/merge?branch={Uri.EscapeDataString(ws.Branch)}&repo_id={ws.RepoId}", null);
        Assert.Equal(HttpStatusCode.Conflict, merge.StatusCode);
        Assert.StartsWith("merge conflict in: README.md", await merge.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(mainBefore, TestGit.Head(repo, "main"));
        Assert.Equal("", TestGit.Status(repo));

        var pr = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/pull-request", new { title = "feat: via gateway", body = "b" });
        var text = await pr.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, pr.StatusCode);
        var result = JsonNode.Parse(text)!.AsArray().Single()!;
        Assert.Equal("app", result["repo_name"]!.GetValue<string>());
        Assert.Contains(fx.GitHub.Created, c => c.Body["head"]!.GetValue<string>() == ws.Branch && c.Body["title"]!.GetValue<string>() == "feat: via gateway");
    }

    [Fact]
    public async Task WsEvents_ThroughGateway_SendsFileChangeFrames()
    {
        var project = await NewProjectAsync();
        var repo = TestGit.CreateRepo(fx.Root, "ws-" + Guid.NewGuid().ToString("N")[..6]);
        (await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "app", repo_path = repo })).EnsureSuccessStatusCode();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await ConnectEventsAsync(timeout.Token);
        // Everything (no subscription yet, and "file-change" names every op).
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"subscribe\":[\"file-change\"]}"), WebSocketMessageType.Text, true, timeout.Token);

        var file = Path.Combine(repo, "hello.txt");
        // The watcher starts when the bridge subscribes; keep touching the file until a frame for it arrives.
        var i = 0;
        await using var writer = BackgroundLoop.Repeat(ct => File.WriteAllTextAsync(file, (i++).ToString(System.Globalization.CultureInfo.InvariantCulture), ct),
            TimeSpan.FromMilliseconds(300), timeout.Token);
        JsonNode frame;
        do
        {
            frame = await writer.WatchAsync(ReceiveFrameAsync(socket, timeout.Token));
        }
        while (frame["path"]!.GetValue<string>() != file);
        Assert.Equal("file-change", frame["type"]!.GetValue<string>());
        Assert.Contains(frame["op"]!.GetValue<string>(), new[] { "create", "modify" });
        Assert.NotNull(frame["timestamp"]);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task WsEvents_ThroughGateway_SubscribeToOneOp_DeliversOnlyThatOp()
    {
        var project = await NewProjectAsync();
        var repo = TestGit.CreateRepo(fx.Root, "wsf-" + Guid.NewGuid().ToString("N")[..6]);
        (await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "app", repo_path = repo })).EnsureSuccessStatusCode();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        using var socket = await ConnectEventsAsync(timeout.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"subscribe\":[\"delete\"]}"), WebSocketMessageType.Text, true, timeout.Token);

        // Each cycle creates a file, lets the debounce (200 ms) emit its create, then deletes it: a
        // bridge that ignored the subscription would deliver the creates too.
        var cycle = 0;
        await using var writer = BackgroundLoop.Start(async ct =>
        {
            while (!ct.IsCancellationRequested)
            {
                var path = Path.Combine(repo, $"cycle-{Interlocked.Increment(ref cycle)}.txt");
                await File.WriteAllTextAsync(path, "x", ct);
                await Task.Delay(600, ct);
                File.Delete(path);
                await Task.Delay(600, ct);
            }
        }, timeout.Token);
        var frames = new List<JsonNode>();
        while (frames.Count(f => f["op"]!.GetValue<string>() == "delete") < 2)
        {
            var frame = await writer.WatchAsync(ReceiveFrameAsync(socket, timeout.Token));
            if (frame["path"]!.GetValue<string>().StartsWith(repo, StringComparison.Ordinal))
            {
                frames.Add(frame);
            }
        }
        // The second delete's cycle began after the watcher was running, so its create was seen and dropped.
        Assert.All(frames, f => Assert.Equal("delete", f["op"]!.GetValue<string>()));
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    private async Task<ClientWebSocket> ConnectEventsAsync(CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + fx.System.Token);
        await socket.ConnectAsync(new UriBuilder(fx.System.GatewayUrl) { Scheme = "ws", Path = "/ws/events" }.Uri, cancellationToken);
        return socket;
    }

    private static async Task<JsonNode> ReceiveFrameAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        var result = await socket.ReceiveAsync(buffer, cancellationToken);
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        return JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count))!;
    }
}
