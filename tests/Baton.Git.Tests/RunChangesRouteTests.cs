using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class RunChangesRouteTests(GitServiceFixture fx)
{
    private async Task<JsonNode> GetJsonAsync(string url)
    {
        var response = await fx.Http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!;
    }

    [Fact]
    public async Task Changes_IncludeModifiedDeletedUntrackedAndBinaryFiles_AgainstBaseCommit()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        TestGit.Commit(wt, "committed.txt", "a\nb\n", "agent commit");
        File.WriteAllText(Path.Combine(wt, "README.md"), "# changed\nline 2\n");
        File.WriteAllText(Path.Combine(wt, "untracked.txt"), "one\ntwo\nthree\n");
        File.WriteAllBytes(Path.Combine(wt, "image.bin"), [0, 1, 2, 3, 0, 255, 0, 7]);

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");

        var files = json["files"]!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["path"]!.GetValue<string>());
        Assert.Equal("added", files["committed.txt"]["status"]!.GetValue<string>());
        Assert.Equal(2, files["committed.txt"]["added"]!.GetValue<int>());
        Assert.Equal("modified", files["README.md"]["status"]!.GetValue<string>());
        Assert.Equal(1, files["README.md"]["added"]!.GetValue<int>());
        Assert.Equal(2, files["README.md"]["deleted"]!.GetValue<int>());
        Assert.Equal("untracked", files["untracked.txt"]["status"]!.GetValue<string>());
        Assert.Equal(3, files["untracked.txt"]["added"]!.GetValue<int>());
        Assert.True(files["image.bin"]["binary"]!.GetValue<bool>());
        Assert.False(files["README.md"]["binary"]!.GetValue<bool>());
        var diff = json["repos"]![0]!["diff"]!.GetValue<string>();
        Assert.Contains("+++ b/untracked.txt", diff, StringComparison.Ordinal);
        Assert.Contains("-line 3", diff, StringComparison.Ordinal);
        Assert.Equal("app", json["repos"]![0]!["repo_name"]!.GetValue<string>());
        // The real index was not touched: untracked stays untracked.
        Assert.Contains("?? untracked.txt", TestGit.Status(wt), StringComparison.Ordinal);

        var stats = await GetJsonAsync($"/api/runs/{runId}/diff-stats");
        Assert.Equal(4, stats["files_changed"]!.GetValue<int>());
        Assert.Equal(2 + 1 + 3, stats["insertions"]!.GetValue<int>());
        Assert.Equal(2, stats["deletions"]!.GetValue<int>());
    }

    [Fact]
    public async Task Changes_ShowRenamesAndDeletions_AndCommitStagesThem()
    {
        // keep.txt and drop.txt exist at the run's base commit, so moving and deleting them are changes against it.
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        TestGit.Commit(repo, "keep.txt", "same content\nfor rename detection\nthree\n", "add keep");
        TestGit.Commit(repo, "drop.txt", "drop\n", "add drop");
        await fx.AddRepoAsync(project, repo);
        var runId = Guid.NewGuid().ToString();
        var workspace = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runId, ProjectId = project }, GitServiceFixture.Internal);
        var wt = workspace.Repos[0].WorktreePath;
        File.Move(Path.Combine(wt, "keep.txt"), Path.Combine(wt, "kept.txt"));
        File.Delete(Path.Combine(wt, "drop.txt"));

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        var files = json["files"]!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["path"]!.GetValue<string>());
        Assert.Equal(["drop.txt", "kept.txt"], files.Keys.Order());
        Assert.Equal("renamed", files["kept.txt"]["status"]!.GetValue<string>());
        Assert.Equal("keep.txt", files["kept.txt"]["old_path"]!.GetValue<string>());
        Assert.Equal("deleted", files["drop.txt"]["status"]!.GetValue<string>());
        Assert.Equal(1, files["drop.txt"]["deleted"]!.GetValue<int>());

        var commit = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/commit", new { message = "feat: move" });
        Assert.Equal(HttpStatusCode.OK, commit.StatusCode);
        Assert.Equal("", TestGit.Status(wt));
        Assert.Equal("D\tdrop.txt\nR100\tkeep.txt\tkept.txt", TestGit.Run(wt, "diff", "-M", "--name-status", "HEAD~1", "HEAD").Trim());
    }

    [Fact]
    public async Task Changes_OfFilesCommittedAndThenRemovedInTheRun_AreNotShown()
    {
        // Against the base commit, a file the run added and then renamed is simply new; one it added and deleted never existed.
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        TestGit.Commit(wt, "keep.txt", "same content\nfor rename detection\nthree\n", "add keep");
        TestGit.Commit(wt, "drop.txt", "drop\n", "add drop");
        File.Move(Path.Combine(wt, "keep.txt"), Path.Combine(wt, "kept.txt"));
        File.Delete(Path.Combine(wt, "drop.txt"));

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        var files = json["files"]!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["path"]!.GetValue<string>());
        Assert.Equal("untracked", files["kept.txt"]["status"]!.GetValue<string>());
        Assert.False(files.ContainsKey("drop.txt"));
        Assert.False(files.ContainsKey("keep.txt"));
    }

    [Fact]
    public async Task Changes_OfRenamedTrackedFile_ReportRenamedWithOldPath()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        File.Move(Path.Combine(wt, "README.md"), Path.Combine(wt, "DOCS.md"));

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        var file = Assert.Single(json["files"]!.AsArray())!;
        Assert.Equal("DOCS.md", file["path"]!.GetValue<string>());
        Assert.Equal("renamed", file["status"]!.GetValue<string>());
        Assert.Equal("README.md", file["old_path"]!.GetValue<string>());
        var stats = await GetJsonAsync($"/api/runs/{runId}/diff-stats");
        Assert.Equal(1, stats["files_changed"]!.GetValue<int>());
        Assert.Equal(0, stats["insertions"]!.GetValue<int>());
    }

    [Fact]
    public async Task Changes_WithSymlinkPointingOutOfTheWorktree_ShowTheLinkNotTheOutsideContent()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var secret = Path.Combine(fx.Outside, "secret-" + Guid.NewGuid().ToString("N")[..6] + ".txt");
        File.WriteAllText(secret, "TOP SECRET CONTENT\n");
        File.CreateSymbolicLink(Path.Combine(workspace.Repos[0].WorktreePath, "escape"), secret);

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        Assert.Equal("escape", json["files"]![0]!["path"]!.GetValue<string>());
        var diff = json["diff"]!.GetValue<string>();
        Assert.Contains("new file mode 120000", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("TOP SECRET CONTENT", diff, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Changes_WhenWorktreeIsGone_ShowCommittedChangesOfTheRunBranch()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        File.WriteAllText(Path.Combine(wt, "paused.txt"), "a\nb\n");
        await fx.Grpc.CheckpointWorkspaceAsync(new CheckpointWorkspaceRequest { RunId = runId }, GitServiceFixture.Internal);
        Directory.Delete(wt, recursive: true);

        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        Assert.Equal("paused.txt", json["files"]![0]!["path"]!.GetValue<string>());
        var stats = await GetJsonAsync($"/api/runs/{runId}/diff-stats");
        Assert.Equal(2, stats["insertions"]!.GetValue<int>());
    }

    [Fact]
    public async Task RenameAndPush_OfMultiRepoRun_SuffixEachBranchWithRepoName()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(repoCount: 2);
        var renamed = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name = "feat/multi" });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);

        var pushed = JsonNode.Parse(await (await fx.Http.PostAsync($"/api/runs/{runId}/push", null)).Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(["feat/multi-repo0", "feat/multi-repo1"], pushed.Select(p => p!["branch"]!.GetValue<string>()).Order().ToArray());
        foreach (var p in pushed)
        {
            var remote = p!["remote_url"]!.GetValue<string>();
            Assert.Equal(p["branch"]!.GetValue<string>(), TestGit.Run(remote, "branch", "--format=%(refname:short)", "--list", "feat/*").Trim());
        }
    }

    [Fact]
    public async Task Changes_ForUnknownRun_Returns404()
    {
        var response = await fx.Http.GetAsync($"/api/runs/{Guid.NewGuid()}/changes");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Changes_OfMultiRepoRun_ListEveryRepo()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(repoCount: 2, withRemote: false);
        foreach (var repo in workspace.Repos)
        {
            File.WriteAllText(Path.Combine(repo.WorktreePath, repo.RepoName + ".txt"), "x\n");
        }
        var json = await GetJsonAsync($"/api/runs/{runId}/changes");
        Assert.Equal(2, json["repos"]!.AsArray().Count);
        Assert.Equal(["repo0", "repo1"], json["files"]!.AsArray().Select(f => f!["repo_name"]!.GetValue<string>()).Order().ToArray());
        var stats = await GetJsonAsync($"/api/runs/{runId}/diff-stats");
        Assert.Equal(2, stats["files_changed"]!.GetValue<int>());
    }

    [Fact]
    public async Task Commit_CommitsEverything_AndWithNothingToCommitReturns400()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        File.WriteAllText(Path.Combine(wt, "feature.txt"), "feature\n");

        var response = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/commit", new { message = "feat: add feature" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("feat: add feature", TestGit.Run(wt, "log", "-1", "--format=%s").Trim());
        Assert.Equal("baton <baton@localhost>", TestGit.Run(wt, "log", "-1", "--format=%an <%ae>").Trim());
        Assert.Equal("", TestGit.Status(wt));

        var empty = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/commit", new { message = "again" });
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("nothing to commit", await empty.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revert_ResetsWorktreeToBaseCommit()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        TestGit.Commit(wt, "c.txt", "c\n", "agent commit");
        File.WriteAllText(Path.Combine(wt, "README.md"), "changed\n");
        File.WriteAllText(Path.Combine(wt, "junk.txt"), "junk\n");

        var response = await fx.Http.PostAsync($"/api/runs/{runId}/revert", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(workspace.Repos[0].BaseCommit, TestGit.Head(wt));
        Assert.Equal("", TestGit.Status(wt));
        Assert.False(File.Exists(Path.Combine(wt, "junk.txt")));
    }

    [Fact]
    public async Task Push_PushesRunBranchToOrigin_AndRemoteRejectionIs409()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync();
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "p.txt", "p\n", "agent commit");

        var response = await fx.Http.PostAsync($"/api/runs/{runId}/push", null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = JsonNode.Parse(body)!.AsArray().Single()!;
        Assert.Equal("app", result["repo_name"]!.GetValue<string>());
        Assert.Equal(ws.Branch, result["branch"]!.GetValue<string>());
        var remote = TestGit.Run(repo, "remote", "get-url", "origin").Trim();
        Assert.Equal(remote, result["remote_url"]!.GetValue<string>());
        Assert.Equal(TestGit.Head(ws.WorktreePath), TestGit.Run(remote, "rev-parse", "refs/heads/" + ws.Branch).Trim());

        // Someone else moves the remote branch: our next push is a non-fast-forward.
        var other = Path.Combine(fx.NewFolder(), "other");
        TestGit.Run(fx.Repos, "clone", "-q", "-b", ws.Branch, remote, other);
        TestGit.Commit(other, "o.txt", "o\n", "someone else");
        TestGit.Run(other, "push", "-q", "origin", ws.Branch);
        TestGit.Commit(ws.WorktreePath, "q.txt", "q\n", "agent commit 2");

        var rejected = await fx.Http.PostAsync($"/api/runs/{runId}/push", null);
        Assert.Equal(HttpStatusCode.Conflict, rejected.StatusCode);
        Assert.Contains("rejected", await rejected.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotEqual(TestGit.Head(ws.WorktreePath), TestGit.Run(remote, "rev-parse", "refs/heads/" + ws.Branch).Trim());
    }

    [Fact]
    public async Task Accept_PushesTheRunBranchToOrigin_And409WhenTheRemoteRejectsIt()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync();
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "a.txt", "a\n", "agent commit");

        var accepted = await fx.Http.PostAsync($"/api/runs/{runId}/accept", null);
        var body = await accepted.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var result = JsonNode.Parse(body)!.AsArray().Single()!;
        Assert.Equal("app", result["repo_name"]!.GetValue<string>());
        Assert.Equal(ws.Branch, result["branch"]!.GetValue<string>());
        var remote = TestGit.Run(repo, "remote", "get-url", "origin").Trim();
        Assert.Equal(TestGit.Head(ws.WorktreePath), TestGit.Run(remote, "rev-parse", "refs/heads/" + ws.Branch).Trim());

        var other = Path.Combine(fx.NewFolder(), "other");
        TestGit.Run(fx.Repos, "clone", "-q", "-b", ws.Branch, remote, other);
        TestGit.Commit(other, "o.txt", "o\n", "someone else");
        TestGit.Run(other, "push", "-q", "origin", ws.Branch);
        TestGit.Commit(ws.WorktreePath, "b.txt", "b\n", "agent commit 2");
        var rejected = await fx.Http.PostAsync($"/api/runs/{runId}/accept", null);
        Assert.Equal(HttpStatusCode.Conflict, rejected.StatusCode);
        Assert.Contains("rejected", await rejected.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullRequest_PushesAndCreatesPullOnGitHub_WithTokenAndBody()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync();
        var ws = workspace.Repos[0];
        TestGit.Commit(ws.WorktreePath, "pr.txt", "pr\n", "agent commit");

        var response = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/pull-request", new { title = "feat: add auth", body = "Implements login flow" });
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = JsonNode.Parse(text)!.AsArray().Single()!;
        Assert.Equal("app", result["repo_name"]!.GetValue<string>());
        var number = result["pr_number"]!.GetValue<int>();
        Assert.Equal($"https://github.com/acme/app/pull/{number}", result["pr_url"]!.GetValue<string>());

        var sent = fx.GitHub.Created.Single(c => c.Body["head"]!.GetValue<string>() == ws.Branch);
        Assert.Equal("acme/app", sent.Path);
        Assert.Equal("feat: add auth", sent.Body["title"]!.GetValue<string>());
        Assert.Equal("Implements login flow", sent.Body["body"]!.GetValue<string>());
        Assert.Equal("main", sent.Body["base"]!.GetValue<string>());

        var again = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/pull-request", new { title = "again" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task RenameBranch_RenamesRunBranch_RejectsInvalidNames_And409WhenTaken()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        TestGit.Run(repo, "branch", "taken");

        var bad = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name = "bad..name" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var taken = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name = "taken" });
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);

        var ok = await fx.Http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name = "feat/auth" });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("feat/auth", TestGit.Run(workspace.Repos[0].WorktreePath, "branch", "--show-current").Trim());
        var ws = await fx.Grpc.RestoreWorkspaceAsync(new RunRef { RunId = runId }, GitServiceFixture.Internal);
        Assert.Equal("feat/auth", ws.Repos[0].Branch);
    }
}
