using Baton.ServiceDefaults.Configuration;

namespace Baton.Integrations.Configuration;

/// <summary>
/// The current integrations.yaml. Loaded once at startup (a broken file stops the service); the
/// file is watched afterwards, and an edit that loads cleanly replaces the settings while a broken
/// edit is logged and ignored, so a typo never takes a running service down.
/// </summary>
public sealed class SettingsProvider : IHostedService, IDisposable
{
    private readonly ConfigLoader _loader;
    private readonly string _defaultBaseUrl;
    private readonly ILogger<SettingsProvider> _logger;
    private FileSystemWatcher? _watcher;
    private CancellationTokenSource? _debounce;

    public SettingsProvider(IntegrationsSettings initial, ConfigLoader loader, string defaultBaseUrl, ILogger<SettingsProvider> logger)
    {
        Current = initial;
        _loader = loader;
        _defaultBaseUrl = defaultBaseUrl;
        _logger = logger;
    }

    public IntegrationsSettings Current { get; private set; }

    public event Action<IntegrationsSettings>? Changed;

    public static string DefaultBaseUrl(IConfiguration configuration) => (configuration["BATON_PUBLIC_URL"] ?? "http://127.0.0.1:8080").TrimEnd('/');

    public static string ConfigPath(IConfiguration configuration, BatonOptions options) =>
        ConfigLoader.ResolvePath(configuration["BATON_INTEGRATIONS_CONFIG"], options.ConfigDir);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Current.SourcePath)!;
        if (!Directory.Exists(directory))
        {
            return Task.CompletedTask;
        }
        _watcher = new FileSystemWatcher(directory, Path.GetFileName(Current.SourcePath))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => ScheduleReload();
        _watcher.Created += (_, _) => ScheduleReload();
        _watcher.Renamed += (_, _) => ScheduleReload();
        _watcher.EnableRaisingEvents = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _watcher?.Dispose();
        _debounce?.Cancel();
        return Task.CompletedTask;
    }

    private void ScheduleReload()
    {
        var debounce = new CancellationTokenSource();
        Interlocked.Exchange(ref _debounce, debounce)?.Cancel();
        _ = ReloadAfterAsync(debounce.Token);
    }

    private async Task ReloadAfterAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Editors write a file in several steps; wait until the writes settle.
            await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
            var settings = await _loader.LoadAsync(Current.SourcePath, _defaultBaseUrl, cancellationToken);
            Current = settings;
            Changed?.Invoke(settings);
            _logger.LogInformation("Reloaded {Path}: {Integrations} integrations, {Bindings} bindings", settings.SourcePath, settings.Integrations.Count, settings.Bindings.Count);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is ConfigurationException or IOException or HttpRequestException)
        {
            _logger.LogError("Ignored an edit of {Path} that does not load: {Error}", Current.SourcePath, ex.Message);
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
    }
}
