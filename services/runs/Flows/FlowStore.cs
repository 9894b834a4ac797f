using System.Text;
using System.Text.Json.Nodes;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Runs.Flows;

/// <summary>
/// The flow configuration on disk: one <c>&lt;normalized-id&gt;.flow.yaml</c> per trigger under
/// <c>BATON_CONFIG_DIR/flows/</c>, watched so edits apply live. A malformed file is reported by
/// name (and line) in the log and on <c>/api/config/events</c>, and skipped; the valid ones load.
/// </summary>
public sealed class FlowStore : IHostedService, IDisposable
{
    public const string Suffix = ".flow.yaml";

    private readonly ILogger<FlowStore> _logger;
    private readonly IGestaltEventSink _events;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private FileSystemWatcher? _watcher;
    private Debouncer<int>? _reload;
    private volatile FlowConfig _current = FlowConfig.Empty;

    public FlowStore(BatonOptions options, IGestaltEventSink events, ILogger<FlowStore> logger)
    {
        Directory = Path.Combine(options.ConfigDir, "flows");
        _events = events;
        _logger = logger;
    }

    public string Directory { get; }

    public FlowConfig Current => _current;

    /// <summary>Raised after the configuration changed (a save or an edit on disk).</summary>
    public event Action<FlowConfig>? Changed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Reload();
        _reload = new Debouncer<int>(TimeSpan.FromMilliseconds(150), (_, _, _) =>
        {
            try
            {
                Reload();
            }
            catch (Exception ex)
            {
                // A timer callback must never take the service down; the next edit reloads again.
                _logger.LogError(ex, "Reloading flows from {Directory} failed", Directory);
            }
        });
        _watcher = new FileSystemWatcher(Directory, "*" + Suffix)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        FileSystemEventHandler changed = (_, _) => _reload.Signal("flows", 0);
        _watcher.Created += changed;
        _watcher.Changed += changed;
        _watcher.Deleted += changed;
        _watcher.Renamed += (_, _) => _reload.Signal("flows", 0);
        _watcher.EnableRaisingEvents = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Reads every flow file; bad files are reported and skipped, so one typo never hides the other flows.</summary>
    public void Reload()
    {
        // Never read a half-written save: saves hold the same lock.
        _writeLock.Wait();
        try
        {
            ReloadLocked();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void ReloadLocked()
    {
        var flows = new List<FlowDefinition>();
        var files = System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.GetFiles(Directory, "*" + Suffix).Order(StringComparer.Ordinal).ToList()
            : [];
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            try
            {
                var info = new FileInfo(file);
                if (info.Length > 1024 * 1024)
                {
                    throw FlowConfigException.BadRequest("the file is larger than 1 MiB");
                }
                var flow = FlowConfigSchema.ParseFlow(YamlTree.Parse(File.ReadAllText(file, Encoding.UTF8)), name);
                FlowConfigSchema.Validate(new FlowConfig(1, [.. flows, flow]));
                flows.Add(flow);
            }
            catch (Exception ex) when (ex is FlowConfigException or IOException or UnauthorizedAccessException or InvalidOperationException or FormatException)
            {
                _logger.LogWarning("Flow file {File} is invalid and was skipped: {Reason}", file, ex.Message);
                _ = ReportAsync("error", file, $"{name}: {ex.Message}");
            }
        }
        var changed = !SameFlows(_current, flows);
        _current = new FlowConfig(1, flows);
        if (changed)
        {
            Changed?.Invoke(_current);
        }
    }

    /// <summary>Replaces the whole configuration on disk (atomic per file), then applies it. IO failures surface as <see cref="IOException"/>.</summary>
    public async Task<FlowConfig> SaveAsync(FlowConfig config, CancellationToken cancellationToken)
    {
        config = FlowConfigSchema.Validate(config);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var keep = new HashSet<string>(StringComparer.Ordinal);
            foreach (var flow in config.Flows)
            {
                var file = Path.Combine(Directory, FlowConfigSchema.NormalizeId(flow.Trigger.Id) + Suffix);
                keep.Add(file);
                var temp = file + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
                try
                {
                    await File.WriteAllTextAsync(temp, YamlTree.Write(FlowConfigSchema.FlowJson(flow)), new UTF8Encoding(false), cancellationToken);
                    File.Move(temp, file, overwrite: true);
                }
                finally
                {
                    if (File.Exists(temp))
                    {
                        File.Delete(temp);
                    }
                }
            }
            foreach (var stale in System.IO.Directory.GetFiles(Directory, "*" + Suffix).Where(f => !keep.Contains(f)))
            {
                File.Delete(stale);
            }
            _current = config with { Version = 1 };
        }
        finally
        {
            _writeLock.Release();
        }
        Changed?.Invoke(_current);
        await ReportAsync("changed", Directory, $"flow configuration saved ({config.Flows.Count} flows)");
        return _current;
    }

    private async Task ReportAsync(string change, string path, string message)
    {
        try
        {
            await _events.PublishAsync(GestaltStream.Config, new JsonObject
            {
                ["type"] = "config_" + change,
                ["config_type"] = "flow",
                ["path"] = path,
                ["change_type"] = change,
                ["message"] = message,
            });
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "Reporting a flow config change failed");
        }
    }

    private static bool SameFlows(FlowConfig current, List<FlowDefinition> flows) =>
        current.Flows.Count == flows.Count
        && FlowConfigSchema.ToJson(current).ToJsonString() == FlowConfigSchema.ToJson(new FlowConfig(1, flows)).ToJsonString();

    public void Dispose()
    {
        _watcher?.Dispose();
        _reload?.Dispose();
        _watcher = null;
    }
}
