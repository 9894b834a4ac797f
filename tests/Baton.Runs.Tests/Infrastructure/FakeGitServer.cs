using System.Collections.Concurrent;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Git.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>
/// The runs → git contract served by a real gRPC server (h2c on 127.0.0.1:0) that makes real
/// worktrees with <c>git worktree add</c> in temp repositories.
/// </summary>
public sealed class FakeGitServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeGitServer(WebApplication app, FakeGitService service, string url)
    {
        _app = app;
        Service = service;
        Url = url;
    }

    public FakeGitService Service { get; }

    public string Url { get; }

    public static async Task<FakeGitServer> StartAsync(string worktreeRoot)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var service = new FakeGitService(worktreeRoot);
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<FakeGitService>();
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeGitServer(app, service, url);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed class FakeGitService(string worktreeRoot) : GitService.GitServiceBase
{
    private readonly ConcurrentDictionary<string, List<Repo>> _projects = new();
    private readonly ConcurrentDictionary<string, Workspace> _workspaces = new();
    private readonly object _gitLock = new();

    public ConcurrentQueue<(string RunId, bool Active)> ActiveCalls { get; } = new();

    public IReadOnlyDictionary<string, Workspace> Workspaces => _workspaces;

    public bool IsRegistered(string projectId) => _projects.ContainsKey(projectId);

    /// <summary>What POST /api/projects/{id}/repos does in the real git service.</summary>
    public Repo AddRepo(string projectId, string name, string path)
    {
        var repo = new Repo { Id = Guid.NewGuid().ToString(), Name = name, RepoPath = path };
        lock (_projects[projectId])
        {
            _projects[projectId].Add(repo);
        }
        return repo;
    }

    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context) => Task.FromResult(new ServiceStatus { Service = "git" });

    public override Task<Empty> RegisterProject(ProjectRef request, ServerCallContext context)
    {
        _projects.TryAdd(request.ProjectId, []);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> DeleteProject(ProjectRef request, ServerCallContext context)
    {
        _projects.TryRemove(request.ProjectId, out _);
        return Task.FromResult(new Empty());
    }

    public override Task<RepoList> ListRepos(ProjectRef request, ServerCallContext context)
    {
        if (!_projects.TryGetValue(request.ProjectId, out var repos))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "project not found"));
        }
        var list = new RepoList();
        lock (repos)
        {
            list.Repos.AddRange(repos);
        }
        return Task.FromResult(list);
    }

    public override Task<Workspace> CreateWorkspace(CreateWorkspaceRequest request, ServerCallContext context)
    {
        if (_workspaces.ContainsKey(request.RunId))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, "workspace exists"));
        }
        var repos = _projects.TryGetValue(request.ProjectId, out var list) ? list.ToList() : [];
        var workspace = new Workspace { RunId = request.RunId };
        lock (_gitLock)
        {
            foreach (var repo in repos)
            {
                var branch = repos.Count > 1 ? $"{request.RunBranch}-{repo.Name}" : request.RunBranch;
                var path = Path.Combine(worktreeRoot, request.RunId, repo.Name);
                var source = string.IsNullOrEmpty(request.SourceBranch) ? "HEAD" : request.SourceBranch;
                GitCli.Run(repo.RepoPath, "worktree", "add", "-q", "-b", branch, path, source);
                workspace.Repos.Add(new WorkspaceRepo
                {
                    RepoId = repo.Id,
                    RepoName = repo.Name,
                    WorktreePath = path,
                    Branch = branch,
                    BaseCommit = GitCli.Run(path, "rev-parse", "HEAD"),
                });
            }
        }
        _workspaces[request.RunId] = workspace;
        return Task.FromResult(workspace);
    }

    public override Task<CheckpointResult> CheckpointWorkspace(CheckpointWorkspaceRequest request, ServerCallContext context)
    {
        var result = new CheckpointResult();
        if (!_workspaces.TryGetValue(request.RunId, out var workspace))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "no workspace"));
        }
        lock (_gitLock)
        {
            foreach (var repo in workspace.Repos)
            {
                GitCli.Run(repo.WorktreePath, "add", "-A");
                if (GitCli.Run(repo.WorktreePath, "status", "--porcelain").Length > 0)
                {
                    GitCli.Run(repo.WorktreePath, "commit", "-q", "-m", request.Message);
                    result.Commits.Add(new CheckpointCommit { RepoName = repo.RepoName, Commit = GitCli.Run(repo.WorktreePath, "rev-parse", "HEAD") });
                }
            }
        }
        return Task.FromResult(result);
    }

    public override Task<Workspace> RestoreWorkspace(RunRef request, ServerCallContext context)
    {
        if (!_workspaces.TryGetValue(request.RunId, out var workspace))
        {
            throw new RpcException(new Status(StatusCode.NotFound, "no workspace"));
        }
        lock (_gitLock)
        {
            foreach (var repo in workspace.Repos.Where(r => !Directory.Exists(r.WorktreePath)))
            {
                var origin = _projects.Values.SelectMany(p => p).First(r => r.Id == repo.RepoId);
                GitCli.Run(origin.RepoPath, "worktree", "prune");
                GitCli.Run(origin.RepoPath, "worktree", "add", "-q", repo.WorktreePath, repo.Branch);
            }
        }
        return Task.FromResult(workspace);
    }

    public override Task<Empty> DeleteWorkspace(RunRef request, ServerCallContext context)
    {
        if (_workspaces.TryRemove(request.RunId, out var workspace))
        {
            lock (_gitLock)
            {
                foreach (var repo in workspace.Repos)
                {
                    var origin = _projects.Values.SelectMany(p => p).FirstOrDefault(r => r.Id == repo.RepoId);
                    if (origin is null)
                    {
                        continue;
                    }
                    GitCli.Run(origin.RepoPath, "worktree", "remove", "--force", repo.WorktreePath);
                    GitCli.Run(origin.RepoPath, "branch", "-D", repo.Branch);
                }
            }
        }
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> SetRunActive(SetRunActiveRequest request, ServerCallContext context)
    {
        ActiveCalls.Enqueue((request.RunId, request.Active));
        return Task.FromResult(new Empty());
    }
}
