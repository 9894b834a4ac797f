using System.Text.Json;
using Baton.Runs.Catalog;

namespace Baton.Runs.Sessions;

/// <summary>The states of NOTES §1.4 (<c>SessionState</c>).</summary>
public static class SessionStatus
{
    public const string Starting = "starting";
    public const string Running = "running";
    public const string Closing = "closing";
    public const string Closed = "closed";
}

public sealed record InputEntry(string Command, DateTimeOffset Timestamp);

public sealed record SessionProgress(string PlanFile, string L1, string L2, int TaskLevel, string TaskState, DateTimeOffset UpdatedAt);

/// <summary>What <c>launch</c> describes (NOTES §1.4): the argv, and how prompts are typed into the CLI.</summary>
public sealed record LaunchSpec(string SessionId, IReadOnlyList<string> Argv, string Interface, IReadOnlyList<string> PromptFiles,
    string InjectionMode, IReadOnlyList<string> Payload, LaunchPacing Pacing);

public sealed record LaunchPacing(TimeSpan PromptDelay, TimeSpan InterPromptDelay, TimeSpan FinalEnterDelay, TimeSpan EnterKeyDelay, TimeSpan OnAirTimeout)
{
    public static readonly LaunchPacing Default = new(
        TimeSpan.FromMilliseconds(1500), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(200),
        TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(15));
}

/// <summary>One agent session: its profile, runner, output and the little state Gestalt keeps per session.</summary>
public sealed class AgentSession(
    string id, AgentProfile profile, string title, string role, DateTimeOffset createdAt, string command,
    IReadOnlyList<string> promptFiles, string directory, SessionOutput output, LaunchSpec launch)
{
    private const int MaxInputHistory = 1000;
    private readonly object _gate = new();
    private readonly List<InputEntry> _inputHistory = LoadInputHistory(Path.Combine(directory, InputHistoryFile));
    private volatile string _status = SessionStatus.Starting;
    private SessionProgress? _progress;

    public const string InputHistoryFile = "input-history.jsonl";

    public string Id { get; } = id;
    public AgentProfile Profile { get; } = profile;
    public string Title { get; } = title;
    public string Role { get; } = role;
    public DateTimeOffset CreatedAt { get; } = createdAt;
    public string Command { get; } = command;
    public IReadOnlyList<string> PromptFiles { get; } = promptFiles;
    public string Directory { get; } = directory;
    public SessionOutput Output { get; } = output;
    public LaunchSpec Launch { get; } = launch;
    public ISessionRunner Runner { get; set; } = null!;

    public string Status
    {
        get => _status;
        set => _status = value;
    }

    public bool IsLive => _status is SessionStatus.Starting or SessionStatus.Running;

    public SessionProgress? Progress
    {
        get
        {
            lock (_gate)
            {
                return _progress;
            }
        }
        set
        {
            lock (_gate)
            {
                _progress = value;
            }
        }
    }

    public IReadOnlyList<InputEntry> InputHistory()
    {
        lock (_gate)
        {
            return [.. _inputHistory];
        }
    }

    /// <summary>Appends to the session's input history, kept in memory and in <c>input-history.jsonl</c>.</summary>
    public async Task RecordInputAsync(string command, DateTimeOffset timestamp, CancellationToken ct)
    {
        var entry = new InputEntry(command, timestamp);
        var line = JsonSerializer.Serialize(new Dictionary<string, object> { ["command"] = command, ["timestamp"] = timestamp.UtcDateTime }) + "\n";
        string[]? rewrite = null;
        lock (_gate)
        {
            _inputHistory.Add(entry);
            if (_inputHistory.Count > MaxInputHistory * 2)
            {
                _inputHistory.RemoveRange(0, _inputHistory.Count - MaxInputHistory);
                rewrite = [.. _inputHistory.Select(e => JsonSerializer.Serialize(new Dictionary<string, object> { ["command"] = e.Command, ["timestamp"] = e.Timestamp.UtcDateTime }))];
            }
        }
        var path = Path.Combine(Directory, InputHistoryFile);
        if (rewrite is not null)
        {
            await File.WriteAllLinesAsync(path, rewrite, ct);
        }
        else
        {
            await File.AppendAllTextAsync(path, line, ct);
        }
    }

    private static List<InputEntry> LoadInputHistory(string path)
    {
        var entries = new List<InputEntry>();
        if (!File.Exists(path))
        {
            return entries;
        }
        foreach (var line in File.ReadLines(path))
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.TryGetProperty("command", out var command) && command.ValueKind == JsonValueKind.String
                    && root.TryGetProperty("timestamp", out var timestamp) && timestamp.TryGetDateTimeOffset(out var at))
                {
                    entries.Add(new InputEntry(command.GetString()!, at));
                }
            }
            catch (JsonException)
            {
                // A torn last line after a crash: skip it.
            }
        }
        return entries.Count > MaxInputHistory ? entries[^MaxInputHistory..] : entries;
    }
}
