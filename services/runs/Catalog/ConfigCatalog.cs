using System.Collections.Immutable;
using System.Security.Cryptography;

namespace Baton.Runs.Catalog;

/// <summary>
/// The agent profiles, skills and plans of the config directory, reloaded when the watcher says a folder changed.
/// A malformed file is reported (log + <c>config_error</c> event, by name and line) and left out; it never hides
/// the valid files beside it. Creations, edits and deletions of valid files become <c>config_*</c> events.
/// </summary>
public sealed class ConfigCatalog(ConfigWatcher watcher, ILogger<ConfigCatalog> logger) : IHostedService, IDisposable
{
    private readonly SemaphoreSlim _reload = new(1, 1);
    private readonly List<IDisposable> _subscriptions = [];
    private readonly Dictionary<string, string> _hashes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _reportedErrors = new(StringComparer.Ordinal);
    private ImmutableArray<AgentProfile> _agents = [];
    private ImmutableArray<Skill> _skills = [];
    private ImmutableArray<PlanDocument> _plans = [];

    /// <summary>The config directory (absolute).</summary>
    public string Root => watcher.Root;

    public IReadOnlyList<AgentProfile> Agents => _agents;

    public IReadOnlyList<Skill> Skills => _skills;

    public IReadOnlyList<PlanDocument> Plans => _plans;

    /// <summary>A profile by id (file stem), else by name (case-insensitive).</summary>
    public AgentProfile? FindAgent(string idOrName)
    {
        var agents = _agents;
        return agents.FirstOrDefault(a => a.Id == idOrName)
            ?? agents.FirstOrDefault(a => string.Equals(a.Name, idOrName, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Like <see cref="FindAgent"/>, re-reading <c>agents/</c> first when it is not known yet (a file
    /// written a moment ago, before the watcher's debounce fired).</summary>
    public async Task<AgentProfile?> FindAgentFreshAsync(string idOrName, CancellationToken ct)
    {
        if (FindAgent(idOrName) is { } known)
        {
            return known;
        }
        await ReloadAgentsAsync(ct);
        return FindAgent(idOrName);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscriptions.Add(watcher.Subscribe("agents", ReloadAgentsAsync));
        _subscriptions.Add(watcher.Subscribe("skills", ReloadSkillsAsync));
        _subscriptions.Add(watcher.Subscribe("plans", ReloadPlansAsync));
        await ReloadAgentsAsync(cancellationToken);
        await ReloadSkillsAsync(cancellationToken);
        await ReloadPlansAsync(cancellationToken);
        logger.LogInformation("Config directory {ConfigDir}: {Agents} agent profiles, {Skills} skills, {Plans} plans",
            watcher.Root, _agents.Length, _skills.Length, _plans.Length);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
        _reload.Dispose();
    }

    public async Task ReloadAgentsAsync(CancellationToken ct)
    {
        var agents = new List<AgentProfile>();
        await ReloadAsync("agent", EnumerateFiles("agents", "*.toml"), async (path, bytes) =>
        {
            agents.Add(AgentProfileParser.Parse(Path.GetFileNameWithoutExtension(path), path, DecodeText(bytes)));
            await Task.CompletedTask;
        }, ct);
        _agents = [.. agents.OrderBy(a => a.Id, StringComparer.Ordinal)];
    }

    public async Task ReloadSkillsAsync(CancellationToken ct)
    {
        var skills = new List<Skill>();
        var files = Directory.Exists(watcher.PathOf("skills"))
            ? Directory.EnumerateDirectories(watcher.PathOf("skills")).Select(d => Path.Combine(d, "SKILL.md")).Where(File.Exists).ToList()
            : [];
        await ReloadAsync("skill", files, async (path, bytes) =>
        {
            skills.Add(SkillParser.Parse(Path.GetDirectoryName(path)!, DecodeText(bytes)));
            await Task.CompletedTask;
        }, ct);
        _skills = [.. skills.OrderBy(s => s.Name, StringComparer.Ordinal)];
    }

    public async Task ReloadPlansAsync(CancellationToken ct)
    {
        var plans = new List<PlanDocument>();
        await ReloadAsync("plan", EnumerateFiles("plans", "*.org"), async (path, bytes) =>
        {
            plans.Add(PlanParser.Parse(Path.GetFileName(path), bytes));
            await Task.CompletedTask;
        }, ct);
        // Newest first: plan files are conventionally date-prefixed (Gestalt sorts by name, descending).
        _plans = [.. plans.OrderByDescending(p => p.Filename, StringComparer.Ordinal)];
    }

    private List<string> EnumerateFiles(string folder, string pattern)
    {
        var path = watcher.PathOf(folder);
        return Directory.Exists(path) ? [.. Directory.EnumerateFiles(path, pattern, SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal)] : [];
    }

    private async Task ReloadAsync(string configType, IReadOnlyList<string> files, Func<string, byte[], Task> parse, CancellationToken ct)
    {
        await _reload.WaitAsync(ct);
        try
        {
            var prefix = configType + ":";
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var path in files)
            {
                byte[] bytes;
                try
                {
                    var info = new FileInfo(path);
                    if (info.Length > MaxFileBytes)
                    {
                        await ReportOnceAsync(configType, path, "too-large", null, $"the file is larger than {MaxFileBytes / 1024} KiB", ct);
                        seen.Add(prefix + path);
                        continue;
                    }
                    bytes = await File.ReadAllBytesAsync(path, ct);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Vanished between listing and reading, or unreadable: the next event reloads again.
                    logger.LogDebug(ex, "Could not read config file {ConfigFile}", path);
                    continue;
                }
                seen.Add(prefix + path);
                var hash = Convert.ToHexString(SHA256.HashData(bytes));
                try
                {
                    await parse(path, bytes);
                }
                catch (ConfigFileException ex)
                {
                    await ReportOnceAsync(configType, path, hash, ex.Line, ex.Message, ct);
                    _hashes[prefix + path] = "invalid:" + hash;
                    continue;
                }
                _reportedErrors.Remove(prefix + path);
                if (!_hashes.TryGetValue(prefix + path, out var previous))
                {
                    _hashes[prefix + path] = hash;
                    if (_loadedOnce.Contains(configType))
                    {
                        await watcher.PublishChangeAsync(configType, path, "created", ct);
                    }
                }
                else if (previous != hash)
                {
                    _hashes[prefix + path] = hash;
                    await watcher.PublishChangeAsync(configType, path, "modified", ct);
                }
            }
            foreach (var gone in _hashes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !seen.Contains(k)).ToList())
            {
                var wasValid = !_hashes[gone].StartsWith("invalid:", StringComparison.Ordinal);
                _hashes.Remove(gone);
                _reportedErrors.Remove(gone);
                if (wasValid)
                {
                    await watcher.PublishChangeAsync(configType, gone[prefix.Length..], "deleted", ct);
                }
            }
            _loadedOnce.Add(configType);
        }
        finally
        {
            _reload.Release();
        }
    }

    private readonly HashSet<string> _loadedOnce = new(StringComparer.Ordinal);

    private const long MaxFileBytes = 1024 * 1024;

    private async Task ReportOnceAsync(string configType, string path, string hash, int? line, string message, CancellationToken ct)
    {
        var key = configType + ":" + path;
        if (_reportedErrors.TryGetValue(key, out var reported) && reported == hash)
        {
            return;
        }
        _reportedErrors[key] = hash;
        await watcher.ReportInvalidAsync(configType, path, line, message, ct);
    }

    private static string DecodeText(byte[] bytes)
    {
        try
        {
            var text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new ConfigFileException("the file is not valid UTF-8");
        }
    }
}
