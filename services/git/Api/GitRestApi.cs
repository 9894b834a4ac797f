using Baton.Contracts.Git.V1;
using Baton.Git.Branches;
using Baton.Git.Changes;
using Baton.Git.FileEvents;
using Baton.Git.GitHub;
using Baton.Git.GitLog;
using Baton.Git.Infrastructure;
using Baton.Git.Repos;
using Baton.Git.Storage;
using Baton.Git.Workspaces;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Git.Api;

/// <summary>The git service's REST routes (004_* repos, run changes, branches; 000_* git log) via JSON transcoding.</summary>
public sealed class GitRestApi(
    RepoService repos, WorkspaceService workspaces, ChangesService changes, BranchService branches,
    GitHubClient github, GitOptions options, FileEventHub fileEvents, ILogger<GitRestApi> logger) : GitRestService.GitRestServiceBase
{
    private static readonly Empty Done = new();

    public override Task<Repo> AddRepo(AddRepoRequest request, ServerCallContext context)
    {
        var repo = repos.Add(request.ProjectId, request.Name, request.RepoPath);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return Task.FromResult(Map.Repo(repo));
    }

    public override Task<RepoList> GetRepos(ProjectRef request, ServerCallContext context)
    {
        repos.RequireProject(request.ProjectId);
        return Task.FromResult(Map.Repos(repos.List(request.ProjectId)));
    }

    public override Task<Empty> DeleteRepo(DeleteRepoRequest request, ServerCallContext context)
    {
        repos.Delete(request.ProjectId, request.RepoId);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return Task.FromResult(Done);
    }

    public override async Task<RunChanges> GetRunChanges(RunRef request, ServerCallContext context)
    {
        var list = workspaces.Require(request.RunId);
        var diffs = await Task.WhenAll(list.Select(w => changes.DiffAsync(w, withPatch: true, context.CancellationToken)));
        var result = new RunChanges { RunId = request.RunId, Stats = new DiffStats() };
        foreach (var diff in diffs)
        {
            var repo = new RepoChanges
            {
                RepoId = diff.Workspace.RepoId,
                RepoName = diff.Workspace.RepoName,
                Branch = diff.Workspace.Branch,
                BaseCommit = diff.Workspace.BaseCommit,
                Diff = diff.Diff,
            };
            var files = diff.Files.Select(f => new ChangedFile
            {
                RepoName = f.RepoName,
                Path = f.Path,
                Status = f.Status,
                Added = f.Added,
                Deleted = f.Deleted,
                Binary = f.Binary,
                OldPath = f.OldPath ?? "",
            }).ToList();
            repo.Files.AddRange(files);
            result.Repos.Add(repo);
            result.Files.AddRange(files);
            result.Diff += diff.Diff;
            Accumulate(result.Stats, diff.Files);
        }
        return result;
    }

    public override async Task<DiffStats> GetRunDiffStats(RunRef request, ServerCallContext context)
    {
        var list = workspaces.Require(request.RunId);
        var diffs = await Task.WhenAll(list.Select(w => changes.DiffAsync(w, withPatch: false, context.CancellationToken)));
        var stats = new DiffStats();
        foreach (var diff in diffs)
        {
            Accumulate(stats, diff.Files);
        }
        return stats;
    }

    public override async Task<CheckpointResult> CommitRun(CommitRunRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Message))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "message is required"));
        }
        Input.Text(request.Message, "message");
        return Map.Commits(await workspaces.CommitAsync(request.RunId, request.Message, checkpoint: false, context.CancellationToken));
    }

    public override async Task<PushResultList> PushRun(RunRef request, ServerCallContext context) =>
        await PushAsync(request.RunId, context.CancellationToken);

    public override async Task<PushResultList> AcceptRun(RunRef request, ServerCallContext context) =>
        await PushAsync(request.RunId, context.CancellationToken);

    public override async Task<PullRequestResultList> CreatePullRequest(CreatePullRequestRequest request, ServerCallContext context)
    {
        Input.Require(request.Title, "title", Limits.Name);
        Input.Text(request.Body, "body");
        if (!string.IsNullOrWhiteSpace(request.Base))
        {
            RefNames.RequireBranch(request.Base, "base");
        }
        if (string.IsNullOrWhiteSpace(options.GitHubToken))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "no GitHub token configured: set BATON_GITHUB_TOKEN for the git service"));
        }
        var list = workspaces.Require(request.RunId);
        var pushed = await workspaces.PushAsync(request.RunId, context.CancellationToken);
        var result = new PullRequestResultList();
        foreach (var (repoName, branch, remoteUrl) in pushed)
        {
            var workspace = list.First(w => w.RepoName == repoName);
            var baseBranch = string.IsNullOrWhiteSpace(request.Base)
                ? BranchService.DefaultOf(new RepoRecord(workspace.RepoId, workspace.ProjectId, workspace.RepoName, workspace.RepoPath))
                : RefNames.RequireBranch(request.Base, "base");
            var pull = await github.CreatePullRequestAsync(remoteUrl, branch, baseBranch, request.Title, request.Body, context.CancellationToken);
            result.Results.Add(new PullRequestResult { RepoName = repoName, PrUrl = pull.HtmlUrl, PrNumber = pull.Number });
        }
        return result;
    }

    public override async Task<Workspace> RenameRunBranch(RenameRunBranchRequest request, ServerCallContext context) =>
        Map.Workspace(request.RunId, await workspaces.RenameBranchAsync(request.RunId, request.Name, context.CancellationToken));

    public override async Task<Workspace> RevertRun(RunRef request, ServerCallContext context)
    {
        await workspaces.RevertAsync(request.RunId, context.CancellationToken);
        return Map.Workspace(request.RunId, workspaces.Require(request.RunId));
    }

    public override async Task<BranchList> ListBranches(ProjectRef request, ServerCallContext context)
    {
        var result = new BranchList();
        result.Branches.AddRange((await branches.ListAsync(request.ProjectId, context.CancellationToken)).Select(b => new Branch
        {
            Name = b.Name,
            RepoId = b.Repo.Id,
            RepoName = b.Repo.Name,
            IsDefault = b.IsDefault,
            IsHead = b.IsHead,
            Ahead = b.Ahead,
            Behind = b.Behind,
            Pushed = b.Pushed,
            InSync = b.InSync,
            Upstream = b.Upstream,
            RunId = b.RunId,
            Commit = b.Commit,
            CheckedOutAt = b.CheckedOutAt,
        }));
        return result;
    }

    public override async Task<Empty> DeleteBranch(BranchRef request, ServerCallContext context)
    {
        await branches.DeleteAsync(request.ProjectId, request.Branch, request.RepoId, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return Done;
    }

    public override async Task<BranchOperationResult> MergeBranch(BranchRef request, ServerCallContext context)
    {
        var repo = branches.ResolveRepo(request.ProjectId, request.Branch, request.RepoId);
        var (onto, commit) = await branches.MergeAsync(request.ProjectId, request.Branch, repo.Id, context.CancellationToken);
        return new BranchOperationResult { RepoId = repo.Id, Branch = request.Branch, Onto = onto, Commit = commit };
    }

    public override async Task<BranchOperationResult> RebaseBranch(BranchRef request, ServerCallContext context)
    {
        var repo = branches.ResolveRepo(request.ProjectId, request.Branch, request.RepoId);
        var (onto, commit) = await branches.RebaseAsync(request.ProjectId, request.Branch, repo.Id, context.CancellationToken);
        return new BranchOperationResult { RepoId = repo.Id, Branch = request.Branch, Onto = onto, Commit = commit };
    }

    public override async Task<PullRequestStatusList> GetPullRequestStatus(ProjectRef request, ServerCallContext context)
    {
        var all = await branches.ListAsync(request.ProjectId, context.CancellationToken);
        var result = new PullRequestStatusList();
        foreach (var group in all.Where(b => b.Pushed && !b.IsDefault).GroupBy(b => b.Repo.Id))
        {
            var repo = group.First().Repo;
            var remote = (await GitCli.RunAsync(repo.RepoPath, ["remote", "get-url", "origin"], context.CancellationToken)).StdOut.Trim();
            if (remote.Length == 0)
            {
                continue;
            }
            foreach (var branch in group)
            {
                var pull = await github.FindPullRequestAsync(remote, branch.Name, context.CancellationToken);
                result.Statuses.Add(new PullRequestStatus
                {
                    RepoId = repo.Id,
                    RepoName = repo.Name,
                    Branch = branch.Name,
                    State = pull?.State ?? "none",
                    PrNumber = pull?.Number ?? 0,
                    PrUrl = pull?.HtmlUrl ?? "",
                    Title = pull?.Title ?? "",
                });
            }
        }
        return result;
    }

    public override async Task<Contracts.Git.V1.GitLog> GetGitLog(GitLogRequest request, ServerCallContext context)
    {
        var limit = GitLogReader.ParseLimit(request.Limit) ?? throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid limit"));
        var directory = options.WorkDir;
        if (!string.IsNullOrWhiteSpace(request.ProjectId) || !string.IsNullOrWhiteSpace(request.RepoId))
        {
            repos.RequireProject(request.ProjectId);
            var projectRepos = repos.List(request.ProjectId);
            var repo = string.IsNullOrWhiteSpace(request.RepoId)
                ? projectRepos.FirstOrDefault() ?? throw new RpcException(new Status(StatusCode.NotFound, "the project has no repos"))
                : repos.Get(request.ProjectId, request.RepoId);
            directory = repo.RepoPath;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        timeout.CancelAfter(options.GitLogTimeout);
        try
        {
            // The git child process is killed when the timeout fires.
            return await GitLogReader.ReadAsync(directory, limit, timeout.Token).WaitAsync(options.GitLogTimeout, context.CancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !context.CancellationToken.IsCancellationRequested))
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"git log timed out after {options.GitLogTimeout.TotalSeconds:0.###} s"));
        }
        catch (Exception ex) when (ex is LibGit2Sharp.LibGit2SharpException or GitCommandException or System.ComponentModel.Win32Exception)
        {
            logger.LogWarning(ex, "git log failed in {Directory}", directory);
            throw new RpcException(new Status(StatusCode.Unavailable, $"git unavailable: {ex.Message}"));
        }
    }

    public override async Task WatchFileEvents(WatchFileEventsRequest request, IServerStreamWriter<FileEvent> responseStream, ServerCallContext context)
    {
        var types = request.Types_.Where(t => !string.IsNullOrWhiteSpace(t)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var reader = fileEvents.Subscribe(context.CancellationToken, out var ready);
        await ready;
        // Headers first, so a client knows the subscription is live before any file changes.
        await context.WriteResponseHeadersAsync(new Metadata());
        try
        {
            await foreach (var evt in reader.ReadAllAsync(context.CancellationToken))
            {
                if (types.Count == 0 || types.Contains(evt.Type))
                {
                    await responseStream.WriteAsync(evt, context.CancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
        catch (InvalidOperationException ex)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, ex.Message));
        }
    }

    private async Task<PushResultList> PushAsync(string runId, CancellationToken ct)
    {
        var result = new PushResultList();
        result.Results.AddRange((await workspaces.PushAsync(runId, ct)).Select(p => new PushResult { RepoName = p.RepoName, Branch = p.Branch, RemoteUrl = p.RemoteUrl }));
        return result;
    }

    private static void Accumulate(DiffStats stats, IEnumerable<FileChange> files)
    {
        foreach (var file in files)
        {
            stats.FilesChanged++;
            stats.Insertions += file.Added;
            stats.Deletions += file.Deleted;
        }
    }
}
