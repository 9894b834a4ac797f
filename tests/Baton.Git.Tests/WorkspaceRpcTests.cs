using Baton.Contracts.Git.V1;
using Grpc.Core;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class WorkspaceRpcTests(GitServiceFixture fx)
{
    private static readonly Metadata Internal = GitServiceFixture.Internal;

    [Fact]
    public async Task CreateWorkspace_SingleRepo_CreatesWorktreeOnRunBranchFromHead()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        await fx.AddRepoAsync(project, repo);
        var runId = Guid.NewGuid().ToString();

        var workspace = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runId, ProjectId = project, RunBranch = "baton/run-1a2b3c4d" }, Internal);

        var ws = Assert.Single(workspace.Repos);
        Assert.Equal(Path.Combine(fx.DataDir, "runs", runId, "worktree", "app"), ws.WorktreePath);
        Assert.Equal("baton/run-1a2b3c4d", ws.Branch);
        Assert.Equal(TestGit.Head(repo), ws.BaseCommit);
        Assert.True(File.Exists(Path.Combine(ws.WorktreePath, "README.md")));
        Assert.Equal("baton/run-1a2b3c4d", TestGit.Run(ws.WorktreePath, "branch", "--show-current").Trim());
        Assert.Equal("main", TestGit.Run(repo, "branch", "--show-current").Trim());
    }

    [Fact]
    public async Task CreateWorkspace_WithoutRunBranch_UsesPrefixAndEightHex()
    {
        var (_, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        Assert.Equal("baton/run-" + runId.Replace("-", "")[..8], workspace.Repos[0].Branch);
    }

    [Fact]
    public async Task CreateWorkspace_MultiRepoProject_SuffixesBranchWithRepoName()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        await fx.AddRepoAsync(project, TestGit.CreateRepo(folder, "api"));
        await fx.AddRepoAsync(project, TestGit.CreateRepo(folder, "web"));

        var workspace = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = Guid.NewGuid().ToString(), ProjectId = project, RunBranch = "baton/run-deadbeef" }, Internal);

        Assert.Equal(["baton/run-deadbeef-api", "baton/run-deadbeef-web"], workspace.Repos.Select(r => r.Branch).Order().ToArray());
        Assert.All(workspace.Repos, r => Assert.True(Directory.Exists(r.WorktreePath)));
    }

    [Fact]
    public async Task CreateWorkspace_FromSourceBranch_StartsThere_AndUnknownSourceIsInvalidArgument()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        TestGit.Run(repo, "checkout", "-q", "-b", "feature");
        TestGit.Commit(repo, "f.txt", "feature\n", "feature work");
        var featureHead = TestGit.Head(repo);
        TestGit.Run(repo, "checkout", "-q", "main");
        await fx.AddRepoAsync(project, repo);

        var ws = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = Guid.NewGuid().ToString(), ProjectId = project, SourceBranch = "feature" }, Internal);
        Assert.Equal(featureHead, ws.Repos[0].BaseCommit);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await fx.Grpc.CreateWorkspaceAsync(
            new CreateWorkspaceRequest { RunId = Guid.NewGuid().ToString(), ProjectId = project, SourceBranch = "no-such-branch" }, Internal));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("no-such-branch", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkpoint_CommitsUncommittedAndUntracked_ThenRestoreRecreatesMissingWorktree()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        var wt = workspace.Repos[0].WorktreePath;
        File.AppendAllText(Path.Combine(wt, "README.md"), "more\n");
        File.WriteAllText(Path.Combine(wt, "new.txt"), "untracked\n");

        var result = await fx.Grpc.CheckpointWorkspaceAsync(new CheckpointWorkspaceRequest { RunId = runId }, Internal);
        var commit = Assert.Single(result.Commits);
        Assert.Equal(TestGit.Head(wt), commit.Commit);
        Assert.Equal("", TestGit.Status(wt));
        Assert.Empty((await fx.Grpc.CheckpointWorkspaceAsync(new CheckpointWorkspaceRequest { RunId = runId }, Internal)).Commits);

        Directory.Delete(wt, recursive: true);
        var restored = await fx.Grpc.RestoreWorkspaceAsync(new RunRef { RunId = runId }, Internal);
        Assert.Equal(wt, restored.Repos[0].WorktreePath);
        Assert.Equal("untracked\n", File.ReadAllText(Path.Combine(wt, "new.txt")));
        Assert.Equal(commit.Commit, TestGit.Head(wt));
        Assert.Equal("main", TestGit.Run(repo, "branch", "--show-current").Trim());
    }

    [Fact]
    public async Task DeleteWorkspace_RemovesWorktreeAndBranch_LeavesMainTreeAndOtherRunsAlone()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        await fx.AddRepoAsync(project, repo);
        File.WriteAllText(Path.Combine(repo, "local-work.txt"), "uncommitted in main tree\n");
        var runA = Guid.NewGuid().ToString();
        var runB = Guid.NewGuid().ToString();
        var a = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runA, ProjectId = project }, Internal);
        var b = await fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runB, ProjectId = project }, Internal);
        File.WriteAllText(Path.Combine(a.Repos[0].WorktreePath, "dirty.txt"), "run A work\n");

        await fx.Grpc.DeleteWorkspaceAsync(new RunRef { RunId = runA }, Internal);

        Assert.False(Directory.Exists(a.Repos[0].WorktreePath));
        Assert.False(Directory.Exists(Path.Combine(fx.DataDir, "runs", runA)));
        Assert.Equal("", TestGit.Run(repo, "branch", "--list", a.Repos[0].Branch).Trim());
        Assert.True(Directory.Exists(b.Repos[0].WorktreePath));
        Assert.Contains(b.Repos[0].Branch, TestGit.Run(repo, "branch", "--list", b.Repos[0].Branch), StringComparison.Ordinal);
        Assert.Equal("uncommitted in main tree\n", File.ReadAllText(Path.Combine(repo, "local-work.txt")));
        Assert.Equal("?? local-work.txt\n", TestGit.Status(repo));
    }

    [Fact]
    public async Task CreateWorkspace_ManyRunsOnOneRepoConcurrently_AllSucceed()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "app");
        await fx.AddRepoAsync(project, repo);
        var runs = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid().ToString()).ToList();

        var workspaces = await Task.WhenAll(runs.Select(r => fx.Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = r, ProjectId = project }, Internal).ResponseAsync));
        Assert.Equal(8, workspaces.Select(w => w.Repos[0].Branch).Distinct().Count());

        foreach (var w in workspaces)
        {
            File.WriteAllText(Path.Combine(w.Repos[0].WorktreePath, "work.txt"), w.RunId);
        }
        var commits = await Task.WhenAll(runs.Select(r => fx.Grpc.CheckpointWorkspaceAsync(new CheckpointWorkspaceRequest { RunId = r }, Internal).ResponseAsync));
        Assert.All(commits, c => Assert.Single(c.Commits));
        await Task.WhenAll(runs.Select(r => fx.Grpc.DeleteWorkspaceAsync(new RunRef { RunId = r }, Internal).ResponseAsync));
        Assert.Equal("main", TestGit.Run(repo, "branch", "--format=%(refname:short)").Trim());
        Assert.Equal("", TestGit.Run(repo, "fsck", "--no-progress", "--no-dangling").Trim());
        Assert.Equal("", TestGit.Run(repo, "worktree", "list", "--porcelain").Split('\n').Where(l => l.StartsWith("worktree ", StringComparison.Ordinal)).Skip(1).FirstOrDefault() ?? "");
    }

    [Fact]
    public async Task CreateWorkspace_ForUnknownProject_IsNotFound()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await fx.Grpc.CreateWorkspaceAsync(
            new CreateWorkspaceRequest { RunId = Guid.NewGuid().ToString(), ProjectId = Guid.NewGuid().ToString() }, Internal));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }
}
