using System.Globalization;
using Baton.Git.Infrastructure;
using Baton.Git.Storage;

namespace Baton.Git.Changes;

public sealed record FileChange(string RepoName, string Path, string Status, int Added, int Deleted, bool Binary, string? OldPath);

public sealed record RepoDiff(WorkspaceRecord Workspace, string Diff, IReadOnlyList<FileChange> Files);

/// <summary>
/// What a run changed against its base commit, committed or not, untracked files included. The
/// worktree's index is copied to a temporary index and everything is staged there, so the user's
/// real index is never touched; one <c>git diff --cached</c> then gives exact numbers and binary flags.
/// </summary>
public sealed class ChangesService(RepoLocks locks)
{
    public async Task<RepoDiff> DiffAsync(WorkspaceRecord w, bool withPatch, CancellationToken ct)
    {
        using (await locks.AcquireAsync(w.RepoPath, ct))
        {
            if (!Directory.Exists(w.WorktreePath))
            {
                // Worktree gone (e.g. after a pause and before continue): committed changes only.
                return await DiffCommittedAsync(w, withPatch, ct);
            }
            if (!withPatch)
            {
                // diff-stats fast path: with no untracked files the working tree diff against the base
                // is exactly what the temporary index would give, so skip staging.
                var tracked = RunAsync(w.WorktreePath, ["diff", "-M", "--numstat", "-z", w.BaseCommit], [], ct);
                var untracked = await UntrackedAsync(w.WorktreePath, ct);
                if (untracked.Count == 0)
                {
                    return new RepoDiff(w, "", Parse(w.RepoName, await tracked, "", []));
                }
                await tracked;
            }
            var indexPath = IndexPath(w.WorktreePath);
            var tempIndex = Path.Combine(Path.GetTempPath(), $"baton-index-{Guid.NewGuid():N}");
            try
            {
                if (File.Exists(indexPath))
                {
                    File.Copy(indexPath, tempIndex);
                }
                var env = new Dictionary<string, string> { ["GIT_INDEX_FILE"] = tempIndex };
                await RunAsync(w.WorktreePath, ["add", "-A"], env, ct);
                var numstat = await RunAsync(w.WorktreePath, ["diff", "--cached", "-M", "--numstat", "-z", w.BaseCommit], env, ct);
                if (!withPatch)
                {
                    // diff-stats needs only the numbers: two git processes in all.
                    return new RepoDiff(w, "", Parse(w.RepoName, numstat, "", []));
                }
                var status = await RunAsync(w.WorktreePath, ["diff", "--cached", "-M", "--name-status", "-z", w.BaseCommit], env, ct);
                var patch = await RunAsync(w.WorktreePath, ["diff", "--cached", "-M", "--binary", w.BaseCommit], env, ct);
                var files = Parse(w.RepoName, numstat, status, await UntrackedAsync(w.WorktreePath, ct));
                return new RepoDiff(w, patch, files);
            }
            finally
            {
                File.Delete(tempIndex);
            }
        }
    }

    private static async Task<RepoDiff> DiffCommittedAsync(WorkspaceRecord w, bool withPatch, CancellationToken ct)
    {
        var range = $"{w.BaseCommit}..refs/heads/{w.Branch}";
        var env = new Dictionary<string, string>();
        var numstat = await RunAsync(w.RepoPath, ["diff", "-M", "--numstat", "-z", range], env, ct);
        var status = await RunAsync(w.RepoPath, ["diff", "-M", "--name-status", "-z", range], env, ct);
        var patch = withPatch ? await RunAsync(w.RepoPath, ["diff", "-M", "--binary", range], env, ct) : "";
        return new RepoDiff(w, patch, Parse(w.RepoName, numstat, status, new HashSet<string>()));
    }

    /// <summary>The worktree's index file, read from its <c>.git</c> file (<c>gitdir: …</c>) without starting git.</summary>
    private static string IndexPath(string worktree)
    {
        var dotGit = Path.Combine(worktree, ".git");
        if (Directory.Exists(dotGit))
        {
            return Path.Combine(dotGit, "index");
        }
        var line = File.ReadAllText(dotGit).Trim();
        var gitDir = line.StartsWith("gitdir:", StringComparison.Ordinal) ? line["gitdir:".Length..].Trim() : line;
        return Path.Combine(Path.IsPathRooted(gitDir) ? gitDir : Path.GetFullPath(Path.Combine(worktree, gitDir)), "index");
    }

    private static async Task<HashSet<string>> UntrackedAsync(string worktree, CancellationToken ct)
    {
        var output = await GitCli.RunCheckedAsync(worktree, ["ls-files", "--others", "--exclude-standard", "-z"], ct);
        return output.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }

    internal static List<FileChange> Parse(string repoName, string numstat, string nameStatus, HashSet<string> untracked)
    {
        var statuses = new Dictionary<string, (string Status, string? OldPath)>(StringComparer.Ordinal);
        var parts = nameStatus.Split('\0');
        for (var i = 0; i + 1 < parts.Length;)
        {
            var code = parts[i];
            if (code.Length == 0)
            {
                i++;
                continue;
            }
            if (code[0] is 'R' or 'C')
            {
                statuses[parts[i + 2]] = (code[0] == 'R' ? "renamed" : "added", parts[i + 1]);
                i += 3;
                continue;
            }
            statuses[parts[i + 1]] = (code[0] switch { 'A' => "added", 'D' => "deleted", 'T' => "typechange", _ => "modified" }, null);
            i += 2;
        }

        var files = new List<FileChange>();
        var fields = numstat.Split('\0');
        for (var i = 0; i < fields.Length; i++)
        {
            var head = fields[i];
            if (head.Length == 0)
            {
                continue;
            }
            var cols = head.Split('\t');
            string path;
            if (cols.Length >= 3 && cols[2].Length == 0 && i + 2 < fields.Length)
            {
                // Renames with -z: "added\tdeleted\t" NUL old NUL new.
                path = fields[i + 2];
                i += 2;
            }
            else
            {
                path = cols.Length >= 3 ? cols[2] : head;
            }
            var binary = cols[0] == "-";
            var (status, oldPath) = statuses.TryGetValue(path, out var s) ? s : ("modified", null);
            if (status == "added" && untracked.Contains(path))
            {
                status = "untracked";
            }
            files.Add(new FileChange(repoName, path, status,
                binary ? 0 : int.Parse(cols[0], CultureInfo.InvariantCulture),
                binary ? 0 : int.Parse(cols[1], CultureInfo.InvariantCulture), binary, oldPath));
        }
        return files;
    }

    private static Task<string> RunAsync(string dir, string[] args, Dictionary<string, string> env, CancellationToken ct) =>
        GitCli.RunCheckedAsync(dir, args, ct, env);
}
