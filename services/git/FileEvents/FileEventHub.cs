using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Baton.Contracts.Git.V1;
using Baton.Git.Storage;
using Baton.ServiceDefaults.Events;

namespace Baton.Git.FileEvents;

/// <summary>
/// Filesystem events of registered repositories and run worktrees (create, modify, delete, rename;
/// anything under <c>.git</c> excluded), debounced per path, fanned out to gRPC watchers and
/// published on the event bus (topic <see cref="Topic"/>). Watching costs inotify instances, so it
/// runs while someone listens, or always when <c>BATON_FILE_EVENTS=always</c>.
/// </summary>
public sealed class FileEventHub(GitStore store, GitOptions options, IEventBus bus, IConfiguration configuration, ILogger<FileEventHub> logger)
    : BackgroundService
{
    public static readonly EventTopic<FileEventMessage> Topic = new("git.file-events");
    private const int SubscriberCapacity = 1024;

    private readonly Channel<RawEvent> _raw = Channel.CreateUnbounded<RawEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Channel<FileEvent>, byte> _subscribers = new();
    private readonly Dictionary<string, FileSystemWatcher> _watchers = new(StringComparer.Ordinal);
    private readonly bool _always = string.Equals(configuration["BATON_FILE_EVENTS"], "always", StringComparison.OrdinalIgnoreCase);

    /// <summary>A live subscription; dispose to stop. Reading falls behind by more than 1024 events → the channel completes with an error.</summary>
    public ChannelReader<FileEvent> Subscribe(CancellationToken cancellationToken, out Task ready)
    {
        var channel = Channel.CreateBounded<FileEvent>(new BoundedChannelOptions(SubscriberCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
        _subscribers[channel] = 0;
        cancellationToken.Register(() =>
        {
            _subscribers.TryRemove(channel, out _);
            channel.Writer.TryComplete();
        });
        ready = Task.Run(Reconcile, CancellationToken.None);
        return channel.Reader;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<string, (RawEvent Event, DateTimeOffset Last)>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                while (_raw.Reader.TryRead(out var raw))
                {
                    pending[raw.Path] = pending.TryGetValue(raw.Path, out var existing) ? (Merge(existing.Event, raw), raw.At) : (raw, raw.At);
                }
                var now = DateTimeOffset.UtcNow;
                foreach (var (path, entry) in pending.Where(p => now - p.Value.Last >= options.FileEventsDebounce).ToList())
                {
                    pending.Remove(path);
                    if (entry.Event.Type is not null)
                    {
                        await EmitAsync(entry.Event, stoppingToken);
                    }
                }
                if (++ticks % 20 == 0)
                {
                    Reconcile();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        lock (_watchers)
        {
            foreach (var watcher in _watchers.Values)
            {
                watcher.Dispose();
            }
            _watchers.Clear();
        }
    }

    /// <summary>Starts watchers for every registered repo and the run worktrees folder, stops those no longer needed.</summary>
    public void Reconcile()
    {
        var wanted = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (_always || !_subscribers.IsEmpty)
        {
            foreach (var repo in store.ListAllRepos())
            {
                wanted[repo.RepoPath] = repo.Id;
            }
            Directory.CreateDirectory(options.RunsDir);
            wanted[options.RunsDir] = null;
        }
        lock (_watchers)
        {
            foreach (var path in _watchers.Keys.Where(p => !wanted.ContainsKey(p)).ToList())
            {
                _watchers[path].Dispose();
                _watchers.Remove(path);
            }
            foreach (var (path, repoId) in wanted.Where(w => !_watchers.ContainsKey(w.Key)))
            {
                if (!Directory.Exists(path))
                {
                    continue;
                }
                try
                {
                    _watchers[path] = Watch(path, repoId);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    logger.LogWarning(ex, "Cannot watch {Path} for file events", path);
                }
            }
        }
    }

    private FileSystemWatcher Watch(string root, string? repoId)
    {
        var watcher = new FileSystemWatcher(root)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
            InternalBufferSize = 64 * 1024,
        };
        void Post(string type, string path, string? oldPath = null)
        {
            var (include, runId) = Classify(root, repoId, path);
            if (include && (oldPath is null || Classify(root, repoId, oldPath).Include))
            {
                _raw.Writer.TryWrite(new RawEvent(type, path, oldPath, repoId, runId, DateTimeOffset.UtcNow));
            }
        }
        watcher.Created += (_, e) => Post("create", e.FullPath);
        watcher.Changed += (_, e) =>
        {
            if (!Directory.Exists(e.FullPath))
            {
                Post("modify", e.FullPath);
            }
        };
        watcher.Deleted += (_, e) => Post("delete", e.FullPath);
        watcher.Renamed += (_, e) => Post("rename", e.FullPath, e.OldFullPath);
        watcher.Error += (_, e) => logger.LogWarning(e.GetException(), "File watcher on {Root} failed", root);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    /// <summary>Excludes .git internals; under the runs folder only <c>&lt;run-id&gt;/worktree/**</c> counts (the rest belongs to the runs service).</summary>
    private (bool Include, string? RunId) Classify(string root, string? repoId, string path)
    {
        var relative = Path.GetRelativePath(root, path);
        var segments = relative.Split(Path.DirectorySeparatorChar);
        if (segments.Contains(".git") || relative.StartsWith("..", StringComparison.Ordinal))
        {
            return (false, null);
        }
        if (repoId is not null)
        {
            return (true, null);
        }
        return segments.Length >= 4 && segments[1] == "worktree" ? (true, segments[0]) : (false, null);
    }

    private static RawEvent Merge(RawEvent earlier, RawEvent later) => (earlier.Type, later.Type) switch
    {
        ("create", "modify") => earlier with { At = later.At },
        ("create", "delete") => earlier with { Type = null, At = later.At },
        (null, "create") => later,
        ("delete", "create") => later with { Type = "modify" },
        ("rename", "modify") => earlier with { At = later.At },
        _ => later,
    };

    private async Task EmitAsync(RawEvent raw, CancellationToken ct)
    {
        var evt = new FileEvent
        {
            Type = raw.Type!,
            Path = raw.Path,
            OldPath = raw.OldPath ?? "",
            Timestamp = raw.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            RepoId = raw.RepoId ?? "",
            RunId = raw.RunId ?? "",
        };
        foreach (var subscriber in _subscribers.Keys)
        {
            if (!subscriber.Writer.TryWrite(evt))
            {
                _subscribers.TryRemove(subscriber, out _);
                subscriber.Writer.TryComplete(new InvalidOperationException($"file event subscriber fell more than {SubscriberCapacity} events behind and was cut off"));
            }
        }
        try
        {
            await bus.PublishAsync(Topic, new FileEventMessage(evt.Type, evt.Path, evt.Timestamp, raw.OldPath, raw.RepoId, raw.RunId), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Publishing a file event failed");
        }
    }

    private sealed record RawEvent(string? Type, string Path, string? OldPath, string? RepoId, string? RunId, DateTimeOffset At);
}

/// <summary>The event-bus payload on topic <c>git.file-events</c>.</summary>
public sealed record FileEventMessage(string Type, string Path, string Timestamp, string? OldPath, string? RepoId, string? RunId);
