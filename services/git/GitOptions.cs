using Baton.ServiceDefaults.Configuration;

namespace Baton.Git;

/// <summary>The git service's settings, all from the environment (the runs service's settings are not reachable from here).</summary>
public sealed class GitOptions
{
    public const string RepoRootsKey = "BATON_REPO_ROOTS";
    public const string WorkDirKey = "BATON_WORKDIR";
    public const string GitHubApiUrlKey = "BATON_GITHUB_API_URL";
    public const string GitHubTokenKey = "BATON_GITHUB_TOKEN";
    public const string RunBranchPrefixKey = "BATON_RUN_BRANCH_PREFIX";
    public const string GitLogTimeoutKey = "BATON_GIT_LOG_TIMEOUT_MS";
    public const string FileEventsDebounceKey = "BATON_FILE_EVENTS_DEBOUNCE_MS";

    /// <summary>Canonical allowed roots for registered repositories; empty means any path.</summary>
    public IReadOnlyList<string> RepoRoots { get; init; } = [];
    public required string WorkDir { get; init; }
    /// <summary>Where run worktrees live: <c>BATON_DATA_DIR/runs/&lt;run-id&gt;/worktree/&lt;repo-name&gt;</c>.</summary>
    public required string RunsDir { get; init; }
    public Uri GitHubApiUrl { get; init; } = new("https://api.github.com/");
    public string? GitHubToken { get; init; }
    public string RunBranchPrefix { get; init; } = "baton/run-";
    public TimeSpan GitLogTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan FileEventsDebounce { get; init; } = TimeSpan.FromMilliseconds(200);

    public static GitOptions FromConfiguration(IConfiguration configuration, BatonOptions baton)
    {
        var roots = (configuration[RepoRootsKey] ?? "")
            .Split([Path.PathSeparator, ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => PathSafety.Canonicalize(Path.GetFullPath(r)))
            .ToList();
        var api = configuration[GitHubApiUrlKey];
        return new GitOptions
        {
            RepoRoots = roots,
            WorkDir = Path.GetFullPath(string.IsNullOrWhiteSpace(configuration[WorkDirKey]) ? Directory.GetCurrentDirectory() : configuration[WorkDirKey]!),
            RunsDir = Path.Combine(baton.DataDir, "runs"),
            GitHubApiUrl = new Uri((string.IsNullOrWhiteSpace(api) ? "https://api.github.com" : api).TrimEnd('/') + "/"),
            GitHubToken = string.IsNullOrWhiteSpace(configuration[GitHubTokenKey]) ? null : configuration[GitHubTokenKey],
            RunBranchPrefix = string.IsNullOrWhiteSpace(configuration[RunBranchPrefixKey]) ? "baton/run-" : configuration[RunBranchPrefixKey]!,
            GitLogTimeout = TimeSpan.FromMilliseconds(int.TryParse(configuration[GitLogTimeoutKey], out var ms) && ms > 0 ? ms : 2000),
            FileEventsDebounce = TimeSpan.FromMilliseconds(int.TryParse(configuration[FileEventsDebounceKey], out var d) && d >= 0 ? d : 200),
        };
    }
}
