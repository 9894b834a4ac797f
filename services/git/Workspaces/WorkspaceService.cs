using Baton.Git.Infrastructure;
using Baton.Git.Storage;
using Grpc.Core;
using LibGit2Sharp;

namespace Baton.Git.Workspaces;

/// <summary>
/// A run's workspaces: one worktree per repo of its project under
/// <c>BATON_DATA_DIR/runs/&lt;run-id&gt;/worktree/&lt;repo-name&gt;</c> on its own run branch.
/// Each repository's operations hold that repository's lock; repositories proceed in parallel.
/// </summary>
public sealed class WorkspaceService(GitStore store, RepoLocks locks, GitOptions options, ILogger<WorkspaceService> logger)
{
    public async Task<IReadOnlyList<WorkspaceRecord>> CreateAsync(string runId, string projectId, string? sourceBranch, string? runBranch, CancellationToken ct)
    {
        RequireRunId(runId);
        if (string.IsNullOrWhiteSpace(projectId) || !store.ProjectExists(projectId))
        {
            throw Fail(StatusCode.NotFound, $"project {projectId} not found");
        }
        var existing = store.ListWorkspaces(runId);
        if (existing.Count > 0)
        {
            return existing;
        }
        var repos = store.ListRepos(projectId);
        var hex = runId.Replace("-", "", StringComparison.Ordinal);
        var branchBase = string.IsNullOrWhiteSpace(runBranch) ? options.RunBranchPrefix + hex[..Math.Min(8, hex.Length)] : runBranch.Trim();
        var source = string.IsNullOrWhiteSpace(sourceBranch) ? "HEAD" : RefNames.RequireRevision(sourceBranch.Trim(), "source_branch");
        var runRoot = RunWorktreeRoot(runId);
        var created = new List<WorkspaceRecord>();
        try
        {
            var tasks = repos.Select(async repo =>
            {
                var branch = repos.Count > 1 ? $"{branchBase}-{repo.Name}" : branchBase;
                RefNames.RequireBranch(branch, "run branch");
                var path = Path.Combine(runRoot, repo.Name);
                using (await locks.AcquireAsync(repo.RepoPath, ct))
                {
                    var baseCommit = ResolveSource(repo.RepoPath, repo.Name, source, branch);
                    Directory.CreateDirectory(runRoot);
                    await GitCli.RunCheckedAsync(repo.RepoPath, ["worktree", "add", "--quiet", "-b", branch, "--end-of-options", path, baseCommit], ct);
                    var record = new WorkspaceRecord(runId, projectId, repo.Id, repo.Name, repo.RepoPath, path, branch, baseCommit);
                    lock (created)
                    {
                        created.Add(record);
                    }
                    return record;
                }
            }).ToList();
            await Task.WhenAll(tasks);
            foreach (var record in created)
            {
                store.SaveWorkspace(record);
            }
            return store.ListWorkspaces(runId);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || created.Count > 0)
        {
            foreach (var record in created)
            {
                await RemoveAsync(record, CancellationToken.None);
            }
            if (ex is GitCommandException git)
            {
                throw Fail(StatusCode.Internal, git.Message);
            }
            throw;
        }
    }

    public async Task<IReadOnlyList<(string RepoName, string Commit)>> CommitAsync(string runId, string message, bool checkpoint, CancellationToken ct)
    {
        var workspaces = Require(runId);
        var results = await Task.WhenAll(workspaces.Select(w => locks.RunAsync(w.RepoPath, () =>
        {
            if (!Directory.Exists(w.WorktreePath))
            {
                return (w.RepoName, Commit: (string?)null);
            }
            using var repo = new Repository(w.WorktreePath);
            Commands.Stage(repo, "*");
            if (!repo.RetrieveStatus(new StatusOptions { IncludeUntracked = true }).IsDirty)
            {
                return (w.RepoName, Commit: (string?)null);
            }
            var signature = Signatures.Now();
            var commit = repo.Commit(message, signature, signature);
            return (w.RepoName, Commit: (string?)commit.Sha);
        }, ct)));
        var committed = results.Where(r => r.Commit is not null).Select(r => (r.RepoName, r.Commit!)).ToList();
        if (committed.Count == 0 && !checkpoint)
        {
            throw Fail(StatusCode.InvalidArgument, "nothing to commit");
        }
        return committed;
    }

    public async Task<IReadOnlyList<WorkspaceRecord>> RestoreAsync(string runId, CancellationToken ct)
    {
        var workspaces = Require(runId);
        await Task.WhenAll(workspaces.Select(async w =>
        {
            if (Directory.Exists(w.WorktreePath) && Repository.IsValid(w.WorktreePath))
            {
                return;
            }
            using (await locks.AcquireAsync(w.RepoPath, ct))
            {
                await GitCli.RunAsync(w.RepoPath, ["worktree", "prune"], ct);
                if (Directory.Exists(w.WorktreePath))
                {
                    Directory.Delete(w.WorktreePath, recursive: true);
                }
                Directory.CreateDirectory(Path.GetDirectoryName(w.WorktreePath)!);
                var branchExists = (await GitCli.RunAsync(w.RepoPath, ["rev-parse", "--verify", "--quiet", "refs/heads/" + w.Branch], ct)).Succeeded;
                string[] args = branchExists
                    ? ["worktree", "add", "--quiet", w.WorktreePath, w.Branch]
                    : ["worktree", "add", "--quiet", "-b", w.Branch, w.WorktreePath, w.BaseCommit];
                try
                {
                    await GitCli.RunCheckedAsync(w.RepoPath, args, ct);
                }
                catch (GitCommandException ex)
                {
                    throw Fail(StatusCode.FailedPrecondition, $"cannot restore the worktree of {w.RepoName}: {ex.Message}");
                }
            }
        }));
        return workspaces;
    }

    public async Task DeleteAsync(string runId, CancellationToken ct)
    {
        RequireRunId(runId);
        foreach (var w in store.ListWorkspaces(runId))
        {
            await RemoveAsync(w, ct);
        }
        store.DeleteWorkspaces(runId);
        var root = RunWorktreeRoot(runId);
        if (Directory.Exists(root) && !Directory.EnumerateFileSystemEntries(root).Any())
        {
            Directory.Delete(root);
            var runDir = Path.GetDirectoryName(root)!;
            if (!Directory.EnumerateFileSystemEntries(runDir).Any())
            {
                Directory.Delete(runDir);
            }
        }
    }

    public async Task RevertAsync(string runId, CancellationToken ct)
    {
        var workspaces = Require(runId);
        await Task.WhenAll(workspaces.Select(w => locks.RunAsync(w.RepoPath, () =>
        {
            using var repo = new Repository(w.WorktreePath);
            repo.Reset(ResetMode.Hard, repo.Lookup<Commit>(w.BaseCommit));
            repo.RemoveUntrackedFiles();
            return true;
        }, ct)));
    }

    public async Task<IReadOnlyList<WorkspaceRecord>> RenameBranchAsync(string runId, string? name, CancellationToken ct)
    {
        var workspaces = Require(runId);
        name = RefNames.RequireBranch(name?.Trim(), "name");
        var renamed = workspaces.Select(w => (Workspace: w, NewBranch: workspaces.Count > 1 ? $"{name}-{w.RepoName}" : name)).ToList();
        foreach (var (w, newBranch) in renamed)
        {
            RefNames.RequireBranch(newBranch, "name");
            if (newBranch != w.Branch && (await GitCli.RunAsync(w.RepoPath, ["rev-parse", "--verify", "--quiet", "refs/heads/" + newBranch], ct)).Succeeded)
            {
                throw Fail(StatusCode.AlreadyExists, $"branch '{newBranch}' already exists in {w.RepoName}");
            }
        }
        foreach (var (w, newBranch) in renamed.Where(r => r.NewBranch != r.Workspace.Branch))
        {
            using (await locks.AcquireAsync(w.RepoPath, ct))
            {
                var result = await GitCli.RunAsync(w.RepoPath, ["branch", "-m", "--end-of-options", w.Branch, newBranch], ct);
                if (!result.Succeeded)
                {
                    throw Fail(StatusCode.Aborted, $"cannot rename {w.Branch} in {w.RepoName}: {result.StdErr.Trim()}");
                }
                store.SaveWorkspace(w with { Branch = newBranch });
            }
        }
        return store.ListWorkspaces(runId);
    }

    public async Task<IReadOnlyList<(string RepoName, string Branch, string RemoteUrl)>> PushAsync(string runId, CancellationToken ct)
    {
        var workspaces = Require(runId);
        var results = new List<(string, string, string)>();
        foreach (var w in workspaces)
        {
            using (await locks.AcquireAsync(w.RepoPath, ct))
            {
                var url = (await GitCli.RunAsync(w.RepoPath, ["remote", "get-url", "origin"], ct)).StdOut.Trim();
                if (url.Length == 0)
                {
                    throw Fail(StatusCode.FailedPrecondition, $"repo {w.RepoName} has no remote 'origin' to push to");
                }
                var push = await GitCli.RunAsync(w.RepoPath, ["push", "--porcelain", "-u", "origin", $"refs/heads/{w.Branch}:refs/heads/{w.Branch}"], ct);
                if (!push.Succeeded)
                {
                    var output = (push.StdOut + "\n" + push.StdErr).Trim();
                    logger.LogWarning("Push of {Branch} in {Repo} failed: {Output}", w.Branch, w.RepoName, output);
                    var rejected = output.Contains("[rejected]", StringComparison.Ordinal) || output.Contains("[remote rejected]", StringComparison.Ordinal)
                        || output.Contains("non-fast-forward", StringComparison.Ordinal);
                    throw Fail(rejected ? StatusCode.Aborted : StatusCode.Unavailable,
                        $"push of {w.Branch} in {w.RepoName} to {url} {(rejected ? "was rejected by the remote" : "failed")}: {LastLines(output)}");
                }
                results.Add((w.RepoName, w.Branch, url));
            }
        }
        return results;
    }

    public IReadOnlyList<WorkspaceRecord> Require(string runId)
    {
        RequireRunId(runId);
        var workspaces = store.ListWorkspaces(runId);
        return workspaces.Count == 0 ? throw Fail(StatusCode.NotFound, $"run {runId} has no workspace") : workspaces;
    }

    public string RunWorktreeRoot(string runId) => Path.Combine(options.RunsDir, runId, "worktree");

    private string ResolveSource(string repoPath, string repoName, string source, string branch)
    {
        using var repo = new Repository(repoPath);
        if (repo.Branches[branch] is not null)
        {
            throw Fail(StatusCode.AlreadyExists, $"branch '{branch}' already exists in {repoName}");
        }
        Commit? commit;
        if (source == "HEAD")
        {
            commit = repo.Head.Tip ?? throw Fail(StatusCode.FailedPrecondition, $"repo {repoName} has no commits yet");
        }
        else
        {
            commit = repo.Branches[source]?.Tip ?? repo.Branches["origin/" + source]?.Tip;
            if (commit is null)
            {
                try
                {
                    commit = repo.Lookup<Commit>(source);
                }
                catch (LibGit2SharpException)
                {
                    commit = null;
                }
            }
        }
        return commit?.Sha ?? throw Fail(StatusCode.InvalidArgument, $"unknown source branch '{source}' in repo {repoName}");
    }

    private async Task RemoveAsync(WorkspaceRecord w, CancellationToken ct)
    {
        var root = RunWorktreeRoot(w.RunId);
        if (!PathSafety.IsUnder(Path.GetFullPath(w.WorktreePath), root))
        {
            logger.LogError("Refusing to remove {Path}: not inside {Root}", w.WorktreePath, root);
            return;
        }
        using (await locks.AcquireAsync(w.RepoPath, ct))
        {
            if (Directory.Exists(w.WorktreePath))
            {
                var removed = await GitCli.RunAsync(w.RepoPath, ["worktree", "remove", "--force", "--force", "--end-of-options", w.WorktreePath], ct);
                if (!removed.Succeeded && Directory.Exists(w.WorktreePath))
                {
                    logger.LogWarning("git worktree remove failed for {Path}: {Error}", w.WorktreePath, removed.StdErr);
                    Directory.Delete(w.WorktreePath, recursive: true);
                }
            }
            await GitCli.RunAsync(w.RepoPath, ["worktree", "prune"], ct);
            await GitCli.RunAsync(w.RepoPath, ["branch", "-D", "--end-of-options", w.Branch], ct);
        }
    }

    private static string LastLines(string output) => string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));

    private static void RequireRunId(string runId)
    {
        if (!PathSafety.IsSafeSegment(runId))
        {
            throw Fail(StatusCode.InvalidArgument, $"invalid run id '{runId}'");
        }
    }

    private static RpcException Fail(StatusCode code, string message) => new(new Status(code, message));
}
