using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Pty;
using Baton.Runs.Catalog;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Runs.Sessions;

/// <summary>The agent has a running session and is a singleton (409 with <c>session_id</c>).</summary>
public sealed class SessionConflictException(string agentName, string sessionId) : Exception($"agent \"{agentName}\" is already running")
{
    public string SessionId { get; } = sessionId;
}

/// <summary>
/// Agent sessions (NOTES §1.4): created from the config directory's profiles, run by the <c>server</c> or
/// <c>external</c> runner, kept in memory (as Gestalt does) with their log, input history and progress under
/// <c>BATON_DATA_DIR/runs/sessions/</c>. Also the flow engine's handle on sessions (<see cref="ISessionControl"/>).
/// </summary>
public sealed class SessionManager(
    ConfigCatalog catalog,
    Tmux tmux,
    SessionsConfiguration configuration,
    RunsConfiguration runsConfiguration,
    BatonOptions options,
    IServiceProvider services,
    TimeProvider time,
    ILogger<SessionManager> logger) : ISessionControl, IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _create = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private int _stopped;

    public SessionsConfiguration Configuration => configuration;

    public string SessionsDirectory => Path.Combine(options.ServiceDataDir, "sessions");

    public AgentSession? Get(string id) => _sessions.TryGetValue(id, out var session) ? session : null;

    public IReadOnlyList<AgentSession> List() => [.. _sessions.Values.OrderBy(s => s.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal)];

    public int Count => _sessions.Count;

    /// <summary>The live session of a profile, if any (for <c>GET /api/agents</c>'s <c>session_id</c>/<c>running</c>).</summary>
    public AgentSession? RunningSessionOf(AgentProfile profile) =>
        _sessions.Values.Where(s => s.IsLive && s.Profile.Id == profile.Id).OrderBy(s => s.CreatedAt).FirstOrDefault();

    /// <summary>Starts a session. Throws <see cref="KeyNotFoundException"/> for an unknown agent, <see cref="SessionConflictException"/>
    /// for a running singleton, <see cref="TmuxUnavailableException"/> / <see cref="PtySpawnException"/> when it cannot start.</summary>
    public async Task<AgentSession> CreateAsync(string agent, string runner, string? title, string? role, CancellationToken ct)
    {
        var profile = await catalog.FindAgentFreshAsync(agent, ct) ?? throw new KeyNotFoundException("unknown agent");
        await _create.WaitAsync(ct);
        try
        {
            if (profile.Singleton && RunningSessionOf(profile) is { } running)
            {
                throw new SessionConflictException(profile.Name, running.Id);
            }
            var id = NextId(profile);
            if (_sessions.TryRemove(id, out var stale))
            {
                // A closed session (its tmux window vanished) that was never deleted: the new one takes its id.
                await StopQuietlyAsync(stale);
            }
            var directory = Path.Combine(SessionsDirectory, DirectoryKey(id));
            Directory.CreateDirectory(directory);
            var shell = ResolveShell(profile);
            var (prompts, promptFiles) = ResolvePrompts(profile);
            var launch = new LaunchSpec(id, ShellWords(shell), profile.Interface, promptFiles,
                prompts.Count > 0 ? "stdin" : "none", prompts, LaunchPacing.Default);
            var output = new SessionOutput(directory, configuration.LogMaxBytes, configuration.RingBytes);
            var session = new AgentSession(id, profile, string.IsNullOrWhiteSpace(title) ? profile.Name : title.Trim(), role?.Trim() ?? "",
                time.GetUtcNow(), shell, promptFiles, directory, output, launch);
            var environment = Environment(session, runner);
            var start = new SessionLaunch(id, shell, configuration.WorkDir, environment, 120, 30);
            try
            {
                session.Runner = runner == "external"
                    ? await TmuxRunner.StartAsync(tmux, start, output, Path.Combine(directory, "pane.fifo"), logger, ct)
                    : ServerRunner.Start(start, output);
            }
            catch
            {
                output.Dispose();
                await PublishAsync(GestaltStream.Terminal, TerminalEvent("terminal_error", id, new JsonObject { ["agent_id"] = profile.Id, ["runner"] = runner }));
                await PublishAsync(GestaltStream.Agent, AgentEvent("agent_error", profile, id));
                throw;
            }
            session.Status = SessionStatus.Running;
            _sessions[id] = session;
            _ = MonitorAsync(session);
            logger.LogInformation("Session {SessionId} of agent {AgentId} started ({Runner})", id, profile.Id, runner);
            await PublishAsync(GestaltStream.Terminal, TerminalEvent("terminal_created", id, new JsonObject { ["agent_id"] = profile.Id, ["runner"] = runner }));
            await PublishAsync(GestaltStream.Agent, AgentEvent("agent_started", profile, id));
            if (prompts.Count > 0)
            {
                _ = InjectPromptsAsync(session, prompts);
            }
            return session;
        }
        finally
        {
            _create.Release();
        }
    }

    /// <summary>Stops a session and forgets it. False when there is no such session.</summary>
    public async Task<bool> DeleteAsync(string id, CancellationToken ct)
    {
        if (!_sessions.TryGetValue(id, out var session))
        {
            return false;
        }
        session.Status = SessionStatus.Closing;
        await StopQuietlyAsync(session);
        _sessions.TryRemove(new KeyValuePair<string, AgentSession>(id, session));
        return true;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(SessionsDirectory);
        // FIFOs of sessions of an earlier process: nobody reads them any more.
        foreach (var fifo in Directory.EnumerateFiles(SessionsDirectory, "pane.fifo", SearchOption.AllDirectories))
        {
            File.Delete(fifo);
        }
        await Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        await _stopping.CancelAsync();
        // Server sessions die with the service; external ones live on in the user's tmux, as Gestalt's do.
        await Task.WhenAll(_sessions.Values.Where(s => s.Runner is ServerRunner).Select(StopQuietlyAsync));
    }

    // The container disposes this instance once per registration that hands it out (itself, ISessionControl, the
    // hosted service), so this is idempotent; the token sources stay undisposed for late background work.
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    // ---- ISessionControl (flows) ----

    public async Task SendInputAsync(string sessionId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken = default)
    {
        var session = Get(sessionId) ?? throw new KeyNotFoundException($"session {sessionId} not found");
        await session.Runner.WriteAsync(input, cancellationToken);
    }

    public Task<IReadOnlyList<string>> OutputTailAsync(string sessionId, int lines, CancellationToken cancellationToken = default)
    {
        var session = Get(sessionId) ?? throw new KeyNotFoundException($"session {sessionId} not found");
        return Task.FromResult<IReadOnlyList<string>>(SessionText.Tail(session.Output.Recent(), Math.Max(lines, 0)));
    }

    public Task<IReadOnlyList<string>> SessionsOfAgentAsync(string agent, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. List()
            .Where(s => s.IsLive && (s.Profile.Id == agent || string.Equals(s.Profile.Name, agent, StringComparison.OrdinalIgnoreCase)))
            .Select(s => s.Id)]);

    public async Task<string> StartSessionAsync(string agent, string? title, bool reuseIfRunning, CancellationToken cancellationToken = default)
    {
        if (reuseIfRunning && (await SessionsOfAgentAsync(agent, cancellationToken)) is [var first, ..])
        {
            return first;
        }
        try
        {
            return (await CreateAsync(agent, "server", title, null, cancellationToken)).Id;
        }
        catch (SessionConflictException conflict) when (reuseIfRunning)
        {
            return conflict.SessionId;
        }
    }

    // ---- events ----

    public Task PublishAsync(GestaltStream stream, JsonObject payload) => PublishCoreAsync(stream, payload);

    public JsonObject TerminalEvent(string type, string sessionId, JsonNode? data = null) => new()
    {
        ["type"] = type,
        ["session_id"] = sessionId,
        ["timestamp"] = time.GetUtcNow().UtcDateTime.ToString("O"),
        ["data"] = data ?? new JsonObject(),
    };

    private JsonObject AgentEvent(string type, AgentProfile profile, string sessionId) => new()
    {
        ["type"] = type,
        ["agent_id"] = profile.Id,
        ["agent_name"] = profile.Name,
        ["timestamp"] = time.GetUtcNow().UtcDateTime.ToString("O"),
        ["context"] = new JsonObject { ["session_id"] = sessionId },
    };

    private async Task PublishCoreAsync(GestaltStream stream, JsonObject payload)
    {
        if (services.GetService<IGestaltEventSink>() is not { } sink)
        {
            return;
        }
        try
        {
            await sink.PublishAsync(stream, payload, _stopping.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Publishing a {Stream} event failed", stream);
        }
    }

    // ---- internals ----

    private async Task MonitorAsync(AgentSession session)
    {
        var code = await session.Runner.Exited;
        var deleted = session.Status == SessionStatus.Closing;
        session.Status = SessionStatus.Closed;
        logger.LogInformation("Session {SessionId} ended (exit code {ExitCode})", session.Id, code);
        // External sessions stay listed as closed until deleted or replaced, so input says "session window not found".
        if (deleted || session.Runner is ServerRunner)
        {
            _sessions.TryRemove(new KeyValuePair<string, AgentSession>(session.Id, session));
        }
        await PublishAsync(GestaltStream.Terminal, TerminalEvent("terminal_closed", session.Id, new JsonObject { ["exit_code"] = code }));
        await PublishAsync(GestaltStream.Agent, AgentEvent("agent_stopped", session.Profile, session.Id));
    }

    private async Task StopQuietlyAsync(AgentSession session)
    {
        try
        {
            await session.Runner.StopAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Stopping session {SessionId} failed", session.Id);
        }
    }

    private async Task InjectPromptsAsync(AgentSession session, IReadOnlyList<string> prompts)
    {
        var pacing = session.Launch.Pacing;
        try
        {
            if (session.Profile.OnAirString.Length > 0)
            {
                await WaitForOutputAsync(session, session.Profile.OnAirString, pacing.OnAirTimeout);
            }
            else
            {
                await Task.Delay(pacing.PromptDelay, time, _stopping.Token);
            }
            for (var i = 0; i < prompts.Count && session.IsLive; i++)
            {
                await session.Runner.WriteAsync(Encoding.UTF8.GetBytes(prompts[i]), _stopping.Token);
                await Task.Delay(pacing.EnterKeyDelay, time, _stopping.Token);
                await session.Runner.WriteAsync("\r"u8.ToArray(), _stopping.Token);
                await Task.Delay(i == prompts.Count - 1 ? pacing.FinalEnterDelay : pacing.InterPromptDelay, time, _stopping.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SessionWindowNotFoundException or TmuxUnavailableException or IOException)
        {
            logger.LogDebug(ex, "Prompt injection into {SessionId} stopped", session.Id);
        }
    }

    private async Task WaitForOutputAsync(AgentSession session, string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var needle = Encoding.UTF8.GetBytes(text);
        var tail = Array.Empty<byte>();
        var gate = new object();
        void OnAppended(ReadOnlyMemory<byte> chunk)
        {
            lock (gate)
            {
                var window = tail.Concat(chunk.ToArray()).ToArray();
                if (window.AsSpan().IndexOf(needle) >= 0)
                {
                    seen.TrySetResult();
                }
                tail = window.Length > needle.Length ? window[^needle.Length..] : window;
            }
        }
        session.Output.Appended += OnAppended;
        try
        {
            if (session.Output.Recent().AsSpan().IndexOf(needle) >= 0)
            {
                return;
            }
            await seen.Task.WaitAsync(timeout, time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            session.Output.Appended -= OnAppended;
        }
    }

    private string NextId(AgentProfile profile)
    {
        if (profile.Singleton)
        {
            return profile.Name + " 1";
        }
        for (var n = 1; ; n++)
        {
            var id = $"{profile.Name} {n}";
            if (!_sessions.TryGetValue(id, out var existing) || !existing.IsLive)
            {
                return id;
            }
        }
    }

    private string ResolveShell(AgentProfile profile)
    {
        if (profile.Shell.Length > 0)
        {
            return profile.Shell;
        }
        var (command, modelFlag) = profile.CliType switch
        {
            "claude" or "claude-code" => (runsConfiguration.ClaudeCommand, "--model"),
            "codex" => (runsConfiguration.CodexCommand, "-m"),
            _ => (profile.CliType, "--model"),
        };
        var shell = Tmux.ShellQuote(command);
        return profile.Model.Length > 0 ? $"{shell} {modelFlag} {Tmux.ShellQuote(profile.Model)}" : shell;
    }

    private (IReadOnlyList<string> Prompts, IReadOnlyList<string> Files) ResolvePrompts(AgentProfile profile)
    {
        var prompts = new List<string>();
        var files = new List<string>();
        var folder = Path.Combine(catalog.Root, "prompts");
        foreach (var prompt in profile.Prompts)
        {
            var isName = prompt.Length <= 128 && !prompt.Contains('/') && !prompt.Contains('\\') && !prompt.Contains("..", StringComparison.Ordinal) && !prompt.Contains('\n');
            var file = isName
                ? new[] { prompt, prompt + ".tmpl", prompt + ".md", prompt + ".txt" }.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists)
                : null;
            if (file is not null)
            {
                prompts.Add(File.ReadAllText(file).TrimEnd());
                files.Add(Path.GetFileName(file));
            }
            else
            {
                prompts.Add(prompt);
            }
        }
        return (prompts, files);
    }

    private Dictionary<string, string> Environment(AgentSession session, string runner)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TERM"] = "xterm-256color",
            ["GESTALT_SESSION_ID"] = session.Id,
            ["GESTALT_AGENT_ID"] = session.Profile.Id,
        };
        var context = new AgentProcessContext("session", session.Id, session.Profile.Id, session.Profile.CliType);
        foreach (var contributor in services.GetServices<IAgentEnvironmentContributor>())
        {
            contributor.Contribute(context, environment);
        }
        if (runner == "external")
        {
            // tmux passes these with new-window -e; TERM is the tmux server's own.
            environment.Remove("TERM");
        }
        return environment;
    }

    /// <summary>A folder name for a session id: readable, and distinct for ids that differ only in punctuation.</summary>
    internal static string DirectoryKey(string id)
    {
        var slug = new StringBuilder();
        foreach (var c in id.ToLowerInvariant())
        {
            slug.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..8].ToLowerInvariant();
        return $"{(slug.Length > 48 ? slug.ToString(0, 48) : slug.ToString())}-{hash}";
    }

    /// <summary>The command line split into words the way <c>/bin/sh</c> would for plain quoting (the launch spec's argv).</summary>
    internal static IReadOnlyList<string> ShellWords(string command)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < command.Length; i++)
        {
            var c = command[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (quote == '"')
            {
                if (c == '"')
                {
                    quote = '\0';
                }
                else if (c == '\\' && i + 1 < command.Length && command[i + 1] is '"' or '\\' or '$' or '`')
                {
                    current.Append(command[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (c == '\\' && i + 1 < command.Length)
            {
                current.Append(command[++i]);
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }
        if (inWord)
        {
            words.Add(current.ToString());
        }
        return words;
    }
}
