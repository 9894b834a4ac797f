using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Runs.Catalog;

/// <summary>
/// Watches <c>BATON_CONFIG_DIR</c> (created on first start, with <c>agents/</c>, <c>skills/</c>, <c>plans/</c> and
/// <c>flows/</c>) and tells each subscriber when something under its folder changed, debounced, so an editor's
/// write-rename-delete dance becomes one reload. Subscribers re-read their folder; they never see partial events.
/// </summary>
public sealed class ConfigWatcher : IHostedService, IDisposable
{
    public static readonly string[] Folders = ["agents", "skills", "plans", "flows"];

    private readonly ConcurrentDictionary<string, List<Func<CancellationToken, Task>>> _subscribers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ITimer> _pending = new(StringComparer.Ordinal);
    private readonly IServiceProvider _services;
    private readonly ILogger<ConfigWatcher> _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;
    private FileSystemWatcher? _watcher;

    public ConfigWatcher(BatonOptions options, IServiceProvider services, TimeProvider time, ILogger<ConfigWatcher> logger)
    {
        Root = options.ConfigDir;
        _services = services;
        _time = time;
        _logger = logger;
        EnsureCreated();
    }

    /// <summary>The configuration directory (absolute).</summary>
    public string Root { get; }

    /// <summary>Debounce between the last file event under a folder and its subscribers' reload.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(150);

    public string PathOf(string folder) => Path.Combine(Root, folder);

    /// <summary>Calls <paramref name="onChange"/> after files under <paramref name="folder"/> (<c>agents</c>, <c>flows</c> …) changed.</summary>
    public IDisposable Subscribe(string folder, Func<CancellationToken, Task> onChange)
    {
        var list = _subscribers.GetOrAdd(folder, _ => []);
        lock (list)
        {
            list.Add(onChange);
        }
        return new Subscription(() =>
        {
            lock (list)
            {
                list.Remove(onChange);
            }
        });
    }

    /// <summary>
    /// Reports a malformed file: a warning in the log and a <c>config_error</c> event on <c>/api/config/events</c>,
    /// naming the file (relative to the config directory) and the line.
    /// </summary>
    public async Task ReportInvalidAsync(string configType, string path, int? line, string message, CancellationToken ct = default)
    {
        var relative = Path.GetRelativePath(Root, path);
        var where = line is > 0 ? $"{relative}:{line}" : relative;
        _logger.LogWarning("Config file {ConfigFile} is invalid and was skipped: {Problem}", where, message);
        await PublishAsync(configType, relative, "error", $"{where}: {message}", ct);
    }

    /// <summary>A <c>config_&lt;change&gt;</c> event (NOTES §1.6) for a file that was created, modified or deleted.</summary>
    public Task PublishChangeAsync(string configType, string path, string changeType, CancellationToken ct = default)
    {
        var relative = Path.GetRelativePath(Root, path);
        return PublishAsync(configType, relative, changeType, $"{configType} {relative} {changeType}", ct);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        EnsureCreated();
        try
        {
            _watcher = new FileSystemWatcher(Root)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
                InternalBufferSize = 64 * 1024,
            };
            _watcher.Changed += OnEvent;
            _watcher.Created += OnEvent;
            _watcher.Deleted += OnEvent;
            _watcher.Renamed += OnEvent;
            _watcher.Error += (_, e) =>
            {
                // Events were lost (buffer overflow): reload everything rather than miss an edit.
                _logger.LogWarning(e.GetException(), "The config directory watcher lost events; reloading every folder");
                foreach (var folder in Folders)
                {
                    Schedule(folder);
                }
            };
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
        {
            _logger.LogWarning(ex, "Cannot watch the config directory {ConfigDir}; edits need a restart", Root);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // A host being torn down may dispose the container before it stops its hosted services.
        if (Volatile.Read(ref _disposed) == 0)
        {
            _stopping.Cancel();
        }
        _watcher?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _watcher?.Dispose();
        foreach (var timer in _pending.Values)
        {
            timer.Dispose();
        }
        _stopping.Dispose();
    }

    private void EnsureCreated()
    {
        foreach (var folder in Folders)
        {
            Directory.CreateDirectory(Path.Combine(Root, folder));
        }
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        var relative = Path.GetRelativePath(Root, e.FullPath);
        var folder = relative.Split(Path.DirectorySeparatorChar)[0];
        Schedule(folder);
        if (e is RenamedEventArgs renamed)
        {
            var from = Path.GetRelativePath(Root, renamed.OldFullPath).Split(Path.DirectorySeparatorChar)[0];
            if (from != folder)
            {
                Schedule(from);
            }
        }
    }

    private void Schedule(string folder)
    {
        if (!_subscribers.ContainsKey(folder) || _stopping.IsCancellationRequested)
        {
            return;
        }
        var timer = _pending.GetOrAdd(folder, f => _time.CreateTimer(_ => _ = FireAsync(f), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(Debounce, Timeout.InfiniteTimeSpan);
    }

    private async Task FireAsync(string folder)
    {
        if (!_subscribers.TryGetValue(folder, out var list))
        {
            return;
        }
        Func<CancellationToken, Task>[] handlers;
        lock (list)
        {
            handlers = [.. list];
        }
        foreach (var handler in handlers)
        {
            try
            {
                await handler(_stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Reloading config folder {Folder} failed", folder);
            }
        }
    }

    private async Task PublishAsync(string configType, string relativePath, string changeType, string message, CancellationToken ct)
    {
        if (_services.GetService<IGestaltEventSink>() is not { } sink)
        {
            return;
        }
        try
        {
            await sink.PublishAsync(GestaltStream.Config, new JsonObject
            {
                ["type"] = "config_" + changeType,
                ["config_type"] = configType,
                ["path"] = relativePath,
                ["change_type"] = changeType,
                ["message"] = message,
                ["timestamp"] = _time.GetUtcNow().UtcDateTime.ToString("O"),
            }, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning(ex, "Publishing a config event for {ConfigFile} failed", relativePath);
        }
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
