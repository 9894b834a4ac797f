using Baton.Contracts.Common.V1;
using Baton.Contracts.Git.V1;
using Baton.Git.Repos;
using Baton.Git.Storage;
using Baton.Git.Workspaces;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Git.Api;

/// <summary>The gRPC surface the runs service calls (runs → git, never back).</summary>
public sealed class GitInternalApi(BatonOptions options, GitStore store, RepoService repos, WorkspaceService workspaces) : GitService.GitServiceBase
{
    private static readonly Empty Done = new();

    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context) =>
        Task.FromResult(StatusReporter.Describe(options));

    public override Task<Empty> RegisterProject(ProjectRef request, ServerCallContext context)
    {
        RequireId(request.ProjectId, "project_id");
        store.RegisterProject(request.ProjectId);
        return Task.FromResult(Done);
    }

    public override Task<Empty> DeleteProject(ProjectRef request, ServerCallContext context)
    {
        RequireId(request.ProjectId, "project_id");
        store.DeleteProject(request.ProjectId);
        return Task.FromResult(Done);
    }

    public override Task<RepoList> ListRepos(ProjectRef request, ServerCallContext context) =>
        Task.FromResult(Map.Repos(store.ListRepos(request.ProjectId)));

    public override Task<Repo> ValidateRepo(AddRepoRequest request, ServerCallContext context) =>
        Task.FromResult(Map.Repo(repos.Validate(request.ProjectId, request.Name, request.RepoPath)));

    public override async Task<Workspace> CreateWorkspace(CreateWorkspaceRequest request, ServerCallContext context) =>
        Map.Workspace(request.RunId, await workspaces.CreateAsync(request.RunId, request.ProjectId, request.SourceBranch, request.RunBranch, context.CancellationToken));

    public override async Task<CheckpointResult> CheckpointWorkspace(CheckpointWorkspaceRequest request, ServerCallContext context)
    {
        var message = string.IsNullOrWhiteSpace(request.Message) ? "baton: checkpoint" : request.Message;
        var commits = await workspaces.CommitAsync(request.RunId, message, checkpoint: true, context.CancellationToken);
        return Map.Commits(commits);
    }

    public override async Task<Workspace> RestoreWorkspace(RunRef request, ServerCallContext context) =>
        Map.Workspace(request.RunId, await workspaces.RestoreAsync(request.RunId, context.CancellationToken));

    public override async Task<Empty> DeleteWorkspace(RunRef request, ServerCallContext context)
    {
        await workspaces.DeleteAsync(request.RunId, context.CancellationToken);
        return Done;
    }

    public override Task<Empty> SetRunActive(SetRunActiveRequest request, ServerCallContext context)
    {
        RequireId(request.RunId, "run_id");
        store.SetRunActive(request.RunId, request.Active);
        return Task.FromResult(Done);
    }

    private static void RequireId(string value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field} is required"));
        }
    }
}

internal static class Map
{
    public static Repo Repo(RepoRecord r) => new() { Id = r.Id, Name = r.Name, RepoPath = r.RepoPath };

    public static RepoList Repos(IEnumerable<RepoRecord> repos)
    {
        var list = new RepoList();
        list.Repos.AddRange(repos.Select(Repo));
        return list;
    }

    public static Workspace Workspace(string runId, IEnumerable<WorkspaceRecord> records)
    {
        var workspace = new Workspace { RunId = runId };
        workspace.Repos.AddRange(records.Select(w => new WorkspaceRepo
        {
            RepoId = w.RepoId,
            RepoName = w.RepoName,
            WorktreePath = w.WorktreePath,
            Branch = w.Branch,
            BaseCommit = w.BaseCommit,
        }));
        return workspace;
    }

    public static CheckpointResult Commits(IEnumerable<(string RepoName, string Commit)> commits)
    {
        var result = new CheckpointResult();
        result.Commits.AddRange(commits.Select(c => new CheckpointCommit { RepoName = c.RepoName, Commit = c.Commit }));
        return result;
    }
}
