using Baton.Git.Storage;
using Baton.ServiceDefaults.Validation;
using Grpc.Core;

namespace Baton.Git.Repos;

/// <summary>Registered repositories of each project: validation (absolute, exists, is a repo, allowed root, no escapes) and registration.</summary>
public sealed class RepoService(GitStore store, GitOptions options)
{
    public RepoRecord Validate(string projectId, string? name, string? repoPath)
    {
        if (string.IsNullOrWhiteSpace(repoPath))
        {
            throw Fail(StatusCode.InvalidArgument, "repo_path is required");
        }
        Input.Optional(repoPath, "repo_path", Limits.Path);
        Input.Optional(name, "name", Limits.Name);
        if (!Path.IsPathFullyQualified(repoPath))
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path must be an absolute path: {Input.Quote(repoPath, 256)}");
        }
        if (PathSafety.HasTraversal(repoPath))
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path must not contain '..' segments: {Input.Quote(repoPath, 256)}");
        }
        if (!Directory.Exists(repoPath))
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path does not exist or is not a directory: {Input.Quote(repoPath, 256)}");
        }
        var canonical = PathSafety.Canonicalize(repoPath);
        if (options.RepoRoots.Count > 0 && !options.RepoRoots.Any(root => PathSafety.IsUnder(canonical, root)))
        {
            throw Fail(StatusCode.PermissionDenied, $"repo_path is outside the allowed repository roots (BATON_REPO_ROOTS): {canonical}");
        }
        var dotGit = Path.Combine(canonical, ".git");
        var gitInfo = Directory.Exists(dotGit) ? (FileSystemInfo)new DirectoryInfo(dotGit) : new FileInfo(dotGit);
        if (!gitInfo.Exists)
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path is not a git repository (no .git directory or file): {canonical}");
        }
        if (gitInfo.LinkTarget is not null)
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path's .git is a symlink, which is refused: {canonical}");
        }
        if (!LibGit2Sharp.Repository.IsValid(canonical))
        {
            throw Fail(StatusCode.InvalidArgument, $"repo_path is not a valid git repository: {canonical}");
        }
        var repoName = string.IsNullOrWhiteSpace(name) ? Path.GetFileName(canonical) : name.Trim();
        if (!PathSafety.IsSafeSegment(repoName))
        {
            throw Fail(StatusCode.InvalidArgument, $"name may contain only letters, digits, '-', '_' and '.': {Input.Quote(repoName)}");
        }
        return new RepoRecord(Guid.NewGuid().ToString(), projectId, repoName, canonical);
    }

    public RepoRecord Add(string projectId, string? name, string? repoPath)
    {
        RequireProject(projectId);
        var repo = Validate(projectId, name, repoPath);
        var conflict = store.TryAddRepo(repo);
        if (conflict is not null)
        {
            throw Fail(StatusCode.AlreadyExists, conflict == "name"
                ? $"the project already has a repo named '{repo.Name}'"
                : $"the project already has the repo at {repo.RepoPath}");
        }
        return repo;
    }

    public IReadOnlyList<RepoRecord> List(string projectId) => store.ListRepos(projectId);

    public void Delete(string projectId, string repoId)
    {
        RequireProject(projectId);
        if (!store.ListRepos(projectId).Any(r => r.Id == repoId))
        {
            throw Fail(StatusCode.NotFound, $"repo {repoId} not found in project {projectId}");
        }
        if (store.RepoHasActiveRun(repoId))
        {
            throw Fail(StatusCode.Aborted, "a run of this project is active on this repo; stop it first");
        }
        store.DeleteRepo(projectId, repoId);
    }

    public void RequireProject(string projectId)
    {
        if (string.IsNullOrWhiteSpace(projectId) || !store.ProjectExists(projectId))
        {
            throw Fail(StatusCode.NotFound, $"project {projectId} not found");
        }
    }

    public RepoRecord Get(string projectId, string repoId)
    {
        RequireProject(projectId);
        return store.ListRepos(projectId).FirstOrDefault(r => r.Id == repoId)
            ?? throw Fail(StatusCode.NotFound, $"repo {repoId} not found in project {projectId}");
    }

    private static RpcException Fail(StatusCode code, string message) => new(new Status(code, message));
}
