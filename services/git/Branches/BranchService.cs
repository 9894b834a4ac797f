using Baton.Git.Infrastructure;
using Baton.Git.Repos;
using Baton.Git.Storage;
using Grpc.Core;
using LibGit2Sharp;

namespace Baton.Git.Branches;

public sealed record BranchInfo(
    string Name, RepoRecord Repo, bool IsDefault, bool IsHead, int Ahead, int Behind, bool Pushed, bool InSync,
    string Upstream, string RunId, string Commit, string CheckedOutAt);

/// <summary>
/// Every branch of a project's repositories, and merge/rebase/delete on them. Merges are checked
/// in memory first (<c>git merge-tree</c>), so a conflicting merge leaves the repository exactly as
/// it was. Rebases run in a temporary worktree, or in the (inactive, clean) run worktree that has the
/// branch so it is never left stale; a branch checked out in any other worktree is refused. A
/// conflicting rebase is aborted.
/// </summary>
public sealed class BranchService(GitStore store, RepoService repos, RepoLocks locks, GitOptions options)
{
    private static readonly string[] Protected = ["main", "master"];

    public async Task<IReadOnlyList<BranchInfo>> ListAsync(string projectId, CancellationToken ct)
    {
        repos.RequireProject(projectId);
        var runBranches = store.ListAllWorkspaces().Where(w => w.ProjectId == projectId)
            .GroupBy(w => (w.RepoId, w.Branch)).ToDictionary(g => g.Key, g => g.First().RunId);
        var all = await Task.WhenAll(repos.List(projectId).Select(async repo =>
        {
            using (await locks.AcquireAsync(repo.RepoPath, ct))
            {
                var checkedOut = await CheckedOutAsync(repo.RepoPath, ct);
                return await Task.Run(() =>
                {
                    using var git = new Repository(repo.RepoPath);
                    var defaultName = DefaultBranch(git);
                    var defaultTip = git.Branches[defaultName]?.Tip;
                    var list = new List<BranchInfo>();
                    foreach (var branch in git.Branches.Where(b => !b.IsRemote).OrderBy(b => b.FriendlyName, StringComparer.Ordinal))
                    {
                        var (ahead, behind) = (0, 0);
                        if (defaultTip is not null && branch.Tip is not null)
                        {
                            var divergence = git.ObjectDatabase.CalculateHistoryDivergence(branch.Tip, defaultTip);
                            (ahead, behind) = (divergence.AheadBy ?? 0, divergence.BehindBy ?? 0);
                        }
                        var remote = branch.IsTracking ? branch.TrackedBranch : git.Branches[$"origin/{branch.FriendlyName}"];
                        var pushed = remote?.Tip is not null;
                        list.Add(new BranchInfo(
                            branch.FriendlyName, repo, branch.FriendlyName == defaultName, branch.IsCurrentRepositoryHead,
                            ahead, behind, pushed, pushed && remote!.Tip.Sha == branch.Tip?.Sha,
                            remote?.FriendlyName ?? "", runBranches.GetValueOrDefault((repo.Id, branch.FriendlyName)) ?? "",
                            branch.Tip?.Sha ?? "", checkedOut.GetValueOrDefault(branch.FriendlyName) ?? ""));
                    }
                    return list;
                }, ct);
            }
        }));
        return all.SelectMany(x => x).ToList();
    }

    public async Task DeleteAsync(string projectId, string branch, string? repoId, CancellationToken ct)
    {
        var repo = ResolveRepo(projectId, branch, repoId);
        using (await locks.AcquireAsync(repo.RepoPath, ct))
        {
            var defaultName = DefaultOf(repo);
            if (Protected.Contains(branch) || branch == defaultName)
            {
                throw Fail(StatusCode.FailedPrecondition, $"refusing to delete the default branch '{branch}'");
            }
            var checkedOut = await CheckedOutAsync(repo.RepoPath, ct);
            if (checkedOut.TryGetValue(branch, out var where))
            {
                throw Fail(StatusCode.Aborted, $"branch '{branch}' is checked out at {where}");
            }
            var result = await GitCli.RunAsync(repo.RepoPath, ["branch", "-D", "--end-of-options", branch], ct);
            if (!result.Succeeded)
            {
                throw Fail(StatusCode.Aborted, $"cannot delete '{branch}': {result.StdErr.Trim()}");
            }
        }
    }

    public async Task<(string Onto, string Commit)> MergeAsync(string projectId, string branch, string? repoId, CancellationToken ct)
    {
        var repo = ResolveRepo(projectId, branch, repoId);
        using (await locks.AcquireAsync(repo.RepoPath, ct))
        {
            var target = DefaultOf(repo);
            if (target == branch)
            {
                throw Fail(StatusCode.FailedPrecondition, $"'{branch}' is the default branch");
            }
            var dryRun = await GitCli.RunAsync(repo.RepoPath, ["merge-tree", "--write-tree", "--name-only", "--no-messages", "refs/heads/" + target, "refs/heads/" + branch], ct);
            var lines = dryRun.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (dryRun.ExitCode == 1)
            {
                throw Fail(StatusCode.Aborted, $"merge conflict in: {string.Join(", ", lines.Skip(1).Distinct())}");
            }
            if (!dryRun.Succeeded || lines.Length == 0)
            {
                throw Fail(StatusCode.Internal, $"cannot merge '{branch}': {dryRun.StdErr.Trim()}");
            }
            var message = $"Merge branch '{branch}' into {target}";
            var checkedOut = await CheckedOutAsync(repo.RepoPath, ct);
            if (checkedOut.TryGetValue(target, out var worktree))
            {
                // The target is checked out: merge there so its files follow, only when nothing local would be at risk.
                var status = await GitCli.RunCheckedAsync(worktree, ["status", "--porcelain", "--untracked-files=no"], ct);
                if (status.Trim().Length > 0)
                {
                    throw Fail(StatusCode.Aborted, $"'{target}' has uncommitted changes at {worktree}; commit or stash them first");
                }
                var merge = await GitCli.RunAsync(worktree, ["merge", "--no-ff", "--no-edit", "-m", message, "refs/heads/" + branch], ct);
                if (!merge.Succeeded)
                {
                    await GitCli.RunAsync(worktree, ["merge", "--abort"], ct);
                    throw Fail(StatusCode.Aborted, $"merge of '{branch}' failed: {(merge.StdErr + merge.StdOut).Trim()}");
                }
            }
            else
            {
                var old = (await GitCli.RunCheckedAsync(repo.RepoPath, ["rev-parse", "refs/heads/" + target], ct)).Trim();
                var tip = (await GitCli.RunCheckedAsync(repo.RepoPath, ["rev-parse", "refs/heads/" + branch], ct)).Trim();
                var commit = (await GitCli.RunCheckedAsync(repo.RepoPath, ["commit-tree", lines[0], "-p", old, "-p", tip, "-m", message], ct)).Trim();
                await GitCli.RunCheckedAsync(repo.RepoPath, ["update-ref", "-m", message, "refs/heads/" + target, commit, old], ct);
            }
            return (target, (await GitCli.RunCheckedAsync(repo.RepoPath, ["rev-parse", "refs/heads/" + target], ct)).Trim());
        }
    }

    public async Task<(string Onto, string Commit)> RebaseAsync(string projectId, string branch, string? repoId, CancellationToken ct)
    {
        var repo = ResolveRepo(projectId, branch, repoId);
        using (await locks.AcquireAsync(repo.RepoPath, ct))
        {
            var target = DefaultOf(repo);
            if (target == branch)
            {
                throw Fail(StatusCode.FailedPrecondition, $"'{branch}' is the default branch");
            }
            var run = store.ListAllWorkspaces().FirstOrDefault(w => w.RepoId == repo.Id && w.Branch == branch);
            if (run is not null && store.IsRunActive(run.RunId))
            {
                throw Fail(StatusCode.Aborted, $"branch '{branch}' belongs to active run {run.RunId}");
            }
            var checkedOut = await CheckedOutAsync(repo.RepoPath, ct);
            string worktree;
            string? temporary = null;
            if (checkedOut.TryGetValue(branch, out var existing) && !PathSafety.IsUnder(PathSafety.Canonicalize(existing), PathSafety.Canonicalize(options.RunsDir)))
            {
                // Someone's own working tree: rebasing would rewrite files under their feet.
                throw Fail(StatusCode.Aborted, $"branch '{branch}' is checked out at {existing}; refusing to move it there");
            }
            if (existing is not null)
            {
                var status = await GitCli.RunCheckedAsync(existing, ["status", "--porcelain", "--untracked-files=no"], ct);
                if (status.Trim().Length > 0)
                {
                    throw Fail(StatusCode.Aborted, $"'{branch}' is checked out at {existing} with uncommitted changes");
                }
                worktree = existing;
            }
            else
            {
                temporary = Path.Combine(Path.GetTempPath(), $"baton-rebase-{Guid.NewGuid():N}");
                await GitCli.RunCheckedAsync(repo.RepoPath, ["worktree", "add", "--quiet", "--end-of-options", temporary, branch], ct);
                worktree = temporary;
            }
            try
            {
                var rebase = await GitCli.RunAsync(worktree, ["rebase", "refs/heads/" + target], ct);
                if (!rebase.Succeeded)
                {
                    var conflicts = (await GitCli.RunAsync(worktree, ["diff", "--name-only", "--diff-filter=U"], ct)).StdOut
                        .Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    await GitCli.RunAsync(worktree, ["rebase", "--abort"], ct);
                    throw Fail(StatusCode.Aborted, conflicts.Length > 0
                        ? $"rebase conflict in: {string.Join(", ", conflicts)}; rebase aborted"
                        : $"rebase failed and was aborted: {rebase.StdErr.Trim()}");
                }
                return (target, (await GitCli.RunCheckedAsync(repo.RepoPath, ["rev-parse", "refs/heads/" + branch], ct)).Trim());
            }
            finally
            {
                if (temporary is not null)
                {
                    await GitCli.RunAsync(repo.RepoPath, ["worktree", "remove", "--force", "--end-of-options", temporary], CancellationToken.None);
                    await GitCli.RunAsync(repo.RepoPath, ["worktree", "prune"], CancellationToken.None);
                }
            }
        }
    }

    /// <summary>The repo holding <paramref name="branch"/>: the given one, or the only one of the project that has it.</summary>
    public RepoRecord ResolveRepo(string projectId, string branch, string? repoId)
    {
        RefNames.RequireBranch(branch, "branch");
        if (!string.IsNullOrWhiteSpace(repoId))
        {
            var repo = repos.Get(projectId, repoId);
            return HasBranch(repo, branch) ? repo : throw Fail(StatusCode.NotFound, $"branch '{branch}' not found in {repo.Name}");
        }
        repos.RequireProject(projectId);
        var matches = repos.List(projectId).Where(r => HasBranch(r, branch)).ToList();
        return matches.Count switch
        {
            0 => throw Fail(StatusCode.NotFound, $"branch '{branch}' not found in project {projectId}"),
            1 => matches[0],
            _ => throw Fail(StatusCode.InvalidArgument, $"branch '{branch}' exists in several repos; pass repo_id"),
        };
    }

    public static string DefaultOf(RepoRecord repo)
    {
        using var git = new Repository(repo.RepoPath);
        return DefaultBranch(git);
    }

    /// <summary>origin/HEAD's branch when known, else main, else master, else the main working tree's current branch.</summary>
    public static string DefaultBranch(Repository git)
    {
        var originHead = git.Refs["refs/remotes/origin/HEAD"];
        if (originHead is SymbolicReference symbolic)
        {
            var name = symbolic.TargetIdentifier.Replace("refs/remotes/origin/", "", StringComparison.Ordinal);
            if (git.Branches[name] is not null)
            {
                return name;
            }
        }
        foreach (var candidate in Protected)
        {
            if (git.Branches[candidate] is not null)
            {
                return candidate;
            }
        }
        return git.Head.FriendlyName;
    }

    private static bool HasBranch(RepoRecord repo, string branch)
    {
        using var git = new Repository(repo.RepoPath);
        return git.Branches[branch] is { IsRemote: false };
    }

    /// <summary>Branch name → worktree path, for every worktree (main and linked) that has a branch checked out.</summary>
    internal static async Task<Dictionary<string, string>> CheckedOutAsync(string repoPath, CancellationToken ct)
    {
        var output = await GitCli.RunCheckedAsync(repoPath, ["worktree", "list", "--porcelain"], ct);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? path = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("worktree ", StringComparison.Ordinal))
            {
                path = line["worktree ".Length..];
            }
            else if (line.StartsWith("branch refs/heads/", StringComparison.Ordinal) && path is not null)
            {
                result[line["branch refs/heads/".Length..]] = path;
            }
        }
        return result;
    }

    private static RpcException Fail(StatusCode code, string message) => new(new Status(code, message));
}
