using System.Globalization;
using Baton.Contracts.Git.V1;
using Baton.Git.Infrastructure;
using Google.Protobuf.WellKnownTypes;
using LibGit2Sharp;

namespace Baton.Git.GitLog;

/// <summary>
/// <c>GET /api/git/log</c> (000_*): the latest commits of one repository with per-file numstat.
/// The repository and branch are read with LibGit2Sharp; the history itself with one
/// <c>git log --numstat</c>, which is an order of magnitude faster than a libgit2 tree diff per
/// commit on large histories (bench/Baton.Git.Bench/RESULTS.md) and is what the reference runs.
/// </summary>
public static class GitLogReader
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 50;
    /// <summary>Files listed per commit; stats still count every file and <c>files_truncated</c> says when the list was cut.</summary>
    public const int MaxFilesPerCommit = 100;

    private const char RecordSeparator = '\u001e';
    private const char FieldSeparator = '\u001f';

    /// <summary>Parses the limit query: empty means 20; anything but 1..50 is null (the caller answers 400 "invalid limit").</summary>
    public static int? ParseLimit(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return DefaultLimit;
        }
        return int.TryParse(raw.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= MaxLimit ? limit : null;
    }

    /// <summary>Reads the log; throws <see cref="GitCommandException"/> or <see cref="LibGit2SharpException"/> when git fails.</summary>
    public static async Task<Contracts.Git.V1.GitLog> ReadAsync(string directory, int limit, CancellationToken cancellationToken)
    {
        var result = new Contracts.Git.V1.GitLog();
        var root = Repository.Discover(directory);
        if (root is null)
        {
            return result;
        }
        string workDir;
        using (var repo = new Repository(root))
        {
            result.Branch = repo.Info.IsHeadDetached ? "HEAD" : repo.Head.FriendlyName;
            if (repo.Info.IsHeadUnborn)
            {
                return result;
            }
            workDir = repo.Info.WorkingDirectory ?? repo.Info.Path;
        }
        var output = await GitCli.RunCheckedAsync(workDir,
            ["-c", "core.quotePath=false", "log", "-n", limit.ToString(CultureInfo.InvariantCulture), "--no-renames", "--numstat", "-z",
             $"--format={RecordSeparator}%H{FieldSeparator}%ct{FieldSeparator}%s"], cancellationToken);
        foreach (var record in output.Split(RecordSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            result.Commits.Add(ParseCommit(record));
        }
        return result;
    }

    internal static GitLogCommit ParseCommit(string record)
    {
        var headerEnd = record.IndexOf('\0', StringComparison.Ordinal);
        var header = (headerEnd < 0 ? record : record[..headerEnd]).Split(FieldSeparator, 3);
        var sha = header[0];
        var commit = new GitLogCommit
        {
            Sha = sha,
            ShortSha = sha[..Math.Min(12, sha.Length)],
            CommittedAt = DateTimeOffset.FromUnixTimeSeconds(long.Parse(header[1], CultureInfo.InvariantCulture))
                .UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            Subject = header.Length > 2 ? header[2] : "",
            Stats = new GitLogStats(),
        };
        if (headerEnd < 0)
        {
            return commit;
        }
        foreach (var entry in record[(headerEnd + 1)..].Split('\0'))
        {
            var line = entry.TrimStart('\n');
            var parts = line.Split('\t', 3);
            if (parts.Length < 3)
            {
                continue;
            }
            var binary = parts[0] == "-";
            var added = binary ? 0 : int.Parse(parts[0], CultureInfo.InvariantCulture);
            var deleted = binary ? 0 : int.Parse(parts[1], CultureInfo.InvariantCulture);
            commit.Stats.FilesChanged++;
            commit.Stats.LinesAdded += added;
            commit.Stats.LinesDeleted += deleted;
            commit.Stats.HasBinary |= binary;
            if (commit.Files.Count >= MaxFilesPerCommit)
            {
                commit.FilesTruncated = true;
                continue;
            }
            commit.Files.Add(new GitLogFile
            {
                Path = parts[2],
                Added = binary ? Value.ForNull() : Value.ForNumber(added),
                Deleted = binary ? Value.ForNull() : Value.ForNumber(deleted),
                Binary = binary,
            });
        }
        return commit;
    }
}
