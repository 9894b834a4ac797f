using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Baton.Runs.Streams;

/// <summary>
/// Watches <c>BATON_WORKDIR</c> while someone listens (a watcher-stream reader or a flow on a
/// watcher event): debounced <c>file-change</c> events (anything under <c>.git</c> excluded), and
/// <c>git-commit</c> / <c>git-branch</c> when the repository's HEAD moves or switches branch.
/// </summary>
public sealed class WorkdirWatcher(GestaltEventLog events, StreamsOptions options, ILogger<WorkdirWatcher> logger) : BackgroundService
{
    private readonly List<FileSystemWatcher> _watchers = [];
    private Debouncer<FileOp>? _files;
    private Debouncer<int>? _git;
    private GitState? _gitState;
    private readonly SemaphoreSlim _gitCheck = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.WorkDir is null)
        {
            return;
        }
        var changed = new SemaphoreSlim(0);
        events.WatcherDemand.Changed += () => changed.Release();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wanted = options.AlwaysWatch || events.WatcherDemand.Active;
                if (wanted && _watchers.Count == 0)
                {
                    await StartAsync(options.WorkDir, stoppingToken);
                }
                else if (!wanted && _watchers.Count > 0)
                {
                    Stop();
                }
                // Also re-check now and then: a workdir created after start-up is picked up.
                await changed.WaitAsync(TimeSpan.FromSeconds(10), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        Stop();
    }

    private async Task StartAsync(string workDir, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(workDir))
        {
            return;
        }
        _files = new Debouncer<FileOp>(options.Debounce, (path, first, last) => _ = EmitFileChangeAsync(workDir, path, Merge(first, last)));
        _git = new Debouncer<int>(TimeSpan.FromMilliseconds(100), (_, _, _) => _ = CheckGitAsync(workDir, CancellationToken.None));
        try
        {
            _watchers.Add(Watch(workDir, (op, path, oldPath) =>
            {
                if (!IsUnderGit(workDir, path))
                {
                    _files.Signal(path, new FileOp(op, oldPath));
                }
            }));
            _gitState = await ReadGitStateAsync(workDir, cancellationToken);
            if (_gitState is { } state)
            {
                foreach (var dir in new[] { state.GitDir, state.CommonDir }.Distinct(StringComparer.Ordinal).Where(Directory.Exists))
                {
                    _watchers.Add(Watch(dir, (_, path, _) =>
                    {
                        var relative = Path.GetRelativePath(dir, path).Replace('\\', '/');
                        if (relative is "HEAD" or "packed-refs" || relative.StartsWith("refs/heads", StringComparison.Ordinal) || relative == "logs/HEAD")
                        {
                            _git.Signal("git", 0);
                        }
                    }));
                }
            }
            logger.LogInformation("Watching {WorkDir} for file changes and commits", workDir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            logger.LogWarning(ex, "Cannot watch {WorkDir}", workDir);
            Stop();
        }
    }

    private void Stop()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }
        _watchers.Clear();
        _files?.Dispose();
        _git?.Dispose();
        _files = null;
        _git = null;
    }

    private FileSystemWatcher Watch(string root, Action<string, string, string?> post)
    {
        var watcher = new FileSystemWatcher(root)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
            InternalBufferSize = 64 * 1024,
        };
        watcher.Created += (_, e) => post("create", e.FullPath, null);
        watcher.Changed += (_, e) =>
        {
            if (!Directory.Exists(e.FullPath))
            {
                post("modify", e.FullPath, null);
            }
        };
        watcher.Deleted += (_, e) => post("delete", e.FullPath, null);
        watcher.Renamed += (_, e) => post("rename", e.FullPath, e.OldFullPath);
        watcher.Error += (_, e) => logger.LogWarning(e.GetException(), "File watcher on {Root} failed", root);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    private static bool IsUnderGit(string root, string path)
    {
        var relative = Path.GetRelativePath(root, path);
        return relative.Split(Path.DirectorySeparatorChar).Contains(".git") || relative.StartsWith("..", StringComparison.Ordinal);
    }

    private static FileOp? Merge(FileOp first, FileOp last) => (first.Op, last.Op) switch
    {
        ("create", "delete") => null,
        ("create", _) => first,
        ("delete", "create") => new FileOp("modify", null),
        _ => last,
    };

    private async Task EmitFileChangeAsync(string root, string fullPath, FileOp? op)
    {
        if (op is null)
        {
            return;
        }
        var payload = new JsonObject
        {
            ["type"] = "file-change",
            ["op"] = op.Op,
            ["path"] = Path.GetRelativePath(root, fullPath).Replace('\\', '/'),
            ["full_path"] = fullPath,
            ["root"] = root,
        };
        if (op.OldPath is not null)
        {
            payload["old_path"] = Path.GetRelativePath(root, op.OldPath).Replace('\\', '/');
        }
        try
        {
            await events.PublishAsync(GestaltStream.Watcher, payload);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Recording a file change of {Path} failed", fullPath);
        }
    }

    private async Task CheckGitAsync(string workDir, CancellationToken cancellationToken)
    {
        await _gitCheck.WaitAsync(cancellationToken);
        try
        {
            var previous = _gitState;
            var current = await ReadGitStateAsync(workDir, cancellationToken);
            if (current is null || previous is null)
            {
                _gitState = current ?? previous;
                return;
            }
            _gitState = current;
            if (current.Branch != previous.Branch)
            {
                await events.PublishAsync(GestaltStream.Watcher, new JsonObject
                {
                    ["type"] = "git-branch",
                    ["path"] = workDir,
                    ["branch"] = current.Branch,
                    ["previous_branch"] = previous.Branch,
                    ["commit"] = current.Commit,
                }, cancellationToken);
            }
            else if (current.Commit != previous.Commit && current.Commit.Length > 0)
            {
                await events.PublishAsync(GestaltStream.Watcher, new JsonObject
                {
                    ["type"] = "git-commit",
                    ["path"] = workDir,
                    ["branch"] = current.Branch,
                    ["commit"] = current.Commit,
                    ["previous_commit"] = previous.Commit,
                    ["subject"] = current.Subject,
                }, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Checking {WorkDir} for commits failed", workDir);
        }
        finally
        {
            _gitCheck.Release();
        }
    }

    /// <summary>Branch, HEAD commit and git directories of the workdir, or null outside a repository or without git.</summary>
    private static async Task<GitState?> ReadGitStateAsync(string workDir, CancellationToken cancellationToken)
    {
        var dirs = await GitAsync(workDir, cancellationToken, "rev-parse", "--absolute-git-dir", "--git-common-dir");
        if (dirs is null)
        {
            return null;
        }
        var lines = dirs.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length < 2)
        {
            return null;
        }
        var gitDir = lines[0];
        var commonDir = Path.GetFullPath(Path.IsPathRooted(lines[1]) ? lines[1] : Path.Combine(workDir, lines[1]));
        var branch = (await GitAsync(workDir, cancellationToken, "symbolic-ref", "--quiet", "--short", "HEAD"))?.Trim() ?? "";
        var head = (await GitAsync(workDir, cancellationToken, "log", "-1", "--format=%H%n%s"))?.Split('\n', 2) ?? [];
        return new GitState(gitDir, commonDir, branch, head.Length > 0 ? head[0].Trim() : "", head.Length > 1 ? head[1].Trim() : "");
    }

    private static async Task<string?> GitAsync(string workDir, CancellationToken cancellationToken, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-C");
        start.ArgumentList.Add(workDir);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            _ = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
            return process.ExitCode == 0 ? await output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private sealed record FileOp(string Op, string? OldPath);

    private sealed record GitState(string GitDir, string CommonDir, string Branch, string Commit, string Subject);

    public override void Dispose()
    {
        Stop();
        _gitCheck.Dispose();
        base.Dispose();
    }
}
