using System.Net;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class BranchRouteTests(GitServiceFixture fx)
{
    private static string Snapshot(string repo) =>
        TestGit.Run(repo, "for-each-ref", "--format=%(refname) %(objectname)") + "|" + TestGit.Status(repo) + "|"
        + TestGit.Run(repo, "stash", "list") + "|" + File.Exists(Path.Combine(repo, ".git", "MERGE_HEAD"));

    [Fact]
    public async Task ListBranches_ReportsAheadBehindPushStateAndRun()
    {
        var (project, runId, repo, workspace) = await fx.NewRunAsync();
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "a.txt", "a\n", "run commit 1");
        TestGit.Commit(ws.WorktreePath, "b.txt", "b\n", "run commit 2");
        TestGit.Commit(repo, "m.txt", "m\n", "main moves on");
        await fx.Http.PostAsync($"/api/runs/{runId}/push", null);

        var response = await fx.Http.GetAsync($"/api/projects/{project}/branches");
        var branches = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Select(b => b!.AsObject()).ToDictionary(b => b["name"]!.GetValue<string>());

        var run = branches[ws.Branch];
        Assert.Equal(2, run["ahead"]!.GetValue<int>());
        Assert.Equal(1, run["behind"]!.GetValue<int>());
        Assert.True(run["pushed"]!.GetValue<bool>());
        Assert.True(run["in_sync"]!.GetValue<bool>());
        Assert.Equal(runId, run["run_id"]!.GetValue<string>());
        Assert.Equal(ws.RepoId, run["repo_id"]!.GetValue<string>());
        Assert.True(branches["main"]["is_default"]!.GetValue<bool>());
        Assert.False(branches["main"]["in_sync"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ListBranches_ForUnknownProject_Returns404()
    {
        var response = await fx.Http.GetAsync($"/api/projects/{Guid.NewGuid()}/branches");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Merge_Clean_CreatesNoFastForwardMergeOnDefaultBranch()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        var added = await fx.AddRepoAsync(project, repo);
        TestGit.Run(repo, "checkout", "-q", "-b", "feature");
        TestGit.Commit(repo, "f.txt", "f\n", "feature");
        TestGit.Run(repo, "checkout", "-q", "main");

        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/merge?branch=feature&repo_id={added.Id}", null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TestGit.Head(repo, "main"), JsonNode.Parse(body)!["commit"]!.GetValue<string>());
        Assert.Equal(2, TestGit.Run(repo, "log", "-1", "--format=%P", "main").Trim().Split(' ').Length);
        Assert.True(File.Exists(Path.Combine(repo, "f.txt")));
        Assert.Equal("", TestGit.Status(repo));
    }

    [Fact]
    public async Task Merge_OfBranchNotCheckedOutAnywhere_UpdatesDefaultBranchRef()
    {
        var (project, _, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        TestGit.Run(repo, "checkout", "-q", "--detach");
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "r.txt", "r\n", "run work");
        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/merge?branch={Uri.EscapeDataString(ws.Branch)}", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("r\n", TestGit.Run(repo, "show", "main:r.txt"));
    }

    [Fact]
    public async Task Merge_WithConflict_Returns409ListingFiles_AndLeavesRepoExactlyAsBefore()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        var added = await fx.AddRepoAsync(project, repo);
        TestGit.Run(repo, "checkout", "-q", "-b", "feature");
        TestGit.Commit(repo, "README.md", "feature version\n", "feature edit");
        TestGit.Commit(repo, "other.txt", "feature other\n", "feature other");
        TestGit.Run(repo, "checkout", "-q", "main");
        TestGit.Commit(repo, "README.md", "main version\n", "main edit");
        TestGit.Commit(repo, "other.txt", "main other\n", "main other");
        File.WriteAllText(Path.Combine(repo, "untracked.txt"), "keep me\n");
        var before = Snapshot(repo);

        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/merge?branch=feature&repo_id={added.Id}", null);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("README.md", body, StringComparison.Ordinal);
        Assert.Contains("other.txt", body, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(repo));
        Assert.Equal("main version\n", File.ReadAllText(Path.Combine(repo, "README.md")));
    }

    [Fact]
    public async Task Rebase_Clean_MovesBranchOntoDefault_WithoutTouchingMainTree()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        await fx.AddRepoAsync(project, repo);
        TestGit.Run(repo, "branch", "feature");
        TestGit.Run(repo, "checkout", "-q", "feature");
        TestGit.Commit(repo, "f.txt", "f\n", "feature");
        TestGit.Run(repo, "checkout", "-q", "main");
        TestGit.Commit(repo, "m.txt", "m\n", "main");

        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/rebase?branch=feature", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TestGit.Head(repo, "main"), TestGit.Head(repo, "feature~1"));
        Assert.Equal("main", TestGit.Run(repo, "branch", "--show-current").Trim());
        Assert.Single(TestGit.Run(repo, "worktree", "list").Trim().Split('\n'));
    }

    [Fact]
    public async Task Rebase_WithConflict_Returns409_AndIsAbortedCleanly()
    {
        var (project, _, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "README.md", "run version\n", "run edit");
        TestGit.Commit(repo, "README.md", "main version\n", "main edit");
        var branchBefore = TestGit.Head(repo, ws.Branch);
        var mainBefore = Snapshot(repo);

        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/rebase?branch={Uri.EscapeDataString(ws.Branch)}&repo_id={ws.RepoId}", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("README.md", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(branchBefore, TestGit.Head(repo, ws.Branch));
        Assert.Equal(branchBefore, TestGit.Head(ws.WorktreePath));
        Assert.Equal("", TestGit.Status(ws.WorktreePath));
        Assert.Equal("run version\n", File.ReadAllText(Path.Combine(ws.WorktreePath, "README.md")));
        Assert.Equal(mainBefore, Snapshot(repo));
        var gitDir = TestGit.Run(ws.WorktreePath, "rev-parse", "--git-dir").Trim();
        Assert.False(Directory.Exists(Path.Combine(gitDir, "rebase-merge")));
    }

    [Fact]
    public async Task Rebase_OfBranchCheckedOutInAUsersWorktree_Returns409AndMovesNothing()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        await fx.AddRepoAsync(project, repo);
        TestGit.Run(repo, "checkout", "-q", "-b", "mine");
        TestGit.Commit(repo, "mine.txt", "mine\n", "mine");
        TestGit.Run(repo, "branch", "-f", "main", "HEAD~1");
        var other = Path.Combine(folder, "other-worktree");
        TestGit.Run(repo, "worktree", "add", "-q", other, "main");
        TestGit.Commit(other, "main.txt", "main\n", "main moves");
        var before = TestGit.Head(repo, "mine");

        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/rebase?branch=mine", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal(before, TestGit.Head(repo, "mine"));
        Assert.Equal("", TestGit.Status(repo));
    }

    [Fact]
    public async Task Rebase_OfActiveRunBranch_Returns409()
    {
        var (project, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        await fx.Grpc.SetRunActiveAsync(new SetRunActiveRequest { RunId = runId, Active = true }, GitServiceFixture.Internal);
        var response = await fx.Http.PostAsync($"/api/projects/{project}/branches/rebase?branch={Uri.EscapeDataString(workspace.Repos[0].Branch)}", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task DeleteBranch_RefusesDefaultAndCheckedOut_DeletesOthers()
    {
        var (project, _, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        TestGit.Run(repo, "branch", "old-feature");

        var main = await fx.Http.DeleteAsync($"/api/projects/{project}/branches?branch=main");
        Assert.Equal(HttpStatusCode.BadRequest, main.StatusCode);
        var checkedOut = await fx.Http.DeleteAsync($"/api/projects/{project}/branches?branch={Uri.EscapeDataString(workspace.Repos[0].Branch)}");
        Assert.Equal(HttpStatusCode.Conflict, checkedOut.StatusCode);
        var missing = await fx.Http.DeleteAsync($"/api/projects/{project}/branches?branch=nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var ok = await fx.Http.DeleteAsync($"/api/projects/{project}/branches?branch=old-feature&repo_id={workspace.Repos[0].RepoId}");
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal("", TestGit.Run(repo, "branch", "--list", "old-feature").Trim());
    }

    [Fact]
    public async Task PrStatus_ReportsPullRequestsOfPushedBranches()
    {
        var (project, runId, _, workspace) = await fx.NewRunAsync();
        TestGit.Commit(workspace.Repos[0].WorktreePath, "s.txt", "s\n", "work");
        var pr = await fx.Http.PostAsync($"/api/runs/{runId}/pull-request", new StringContent("{\"title\":\"t\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, pr.StatusCode);

        var response = await fx.Http.GetAsync($"/api/projects/{project}/branches/pr-status");
        var statuses = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        var status = statuses.Single(s => s!["branch"]!.GetValue<string>() == workspace.Repos[0].Branch)!;
        Assert.Equal("open", status["state"]!.GetValue<string>());
        Assert.True(status["pr_number"]!.GetValue<int>() > 0);
    }

    [Fact]
    public async Task ConcurrentMergesAndBranchListsOnOneRepo_AreSerialised()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        TestGit.Run(repo, "checkout", "-q", "--detach");
        var added = await fx.AddRepoAsync(project, repo);
        for (var i = 0; i < 6; i++)
        {
            TestGit.Run(repo, "branch", $"f{i}", "main");
            TestGit.Run(repo, "checkout", "-q", $"f{i}");
            TestGit.Commit(repo, $"f{i}.txt", $"{i}\n", $"feature {i}");
        }
        TestGit.Run(repo, "checkout", "-q", "--detach");

        var merges = Enumerable.Range(0, 6).Select(i => fx.Http.PostAsync($"/api/projects/{project}/branches/merge?branch=f{i}&repo_id={added.Id}", null));
        var lists = Enumerable.Range(0, 6).Select(_ => fx.Http.GetAsync($"/api/projects/{project}/branches"));
        var responses = await Task.WhenAll(merges.Concat(lists));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal($"{i}\n", TestGit.Run(repo, "show", $"main:f{i}.txt"));
        }
    }
}
