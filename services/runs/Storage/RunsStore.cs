using System.Globalization;
using Baton.ServiceDefaults.Storage;
using Microsoft.Data.Sqlite;

namespace Baton.Runs.Storage;

public sealed record ProjectRow(string Id, string Name, DateTimeOffset CreatedAt);

public sealed record AgentRow(
    string Id, string ProjectId, string Name, string CliName, string Model, string Instructions, string AllowedTools,
    int MaxTurns, string ProviderConfigJson, string Role, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record RunRow(
    string Id, string ProjectId, string AgentId, string Task, string Status, string SourceBranch, string RunBranch, string CliName,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long TokensIn, long TokensOut, double CostUsd, string? ParentRunId,
    bool Notify, string? SessionId, string? FailureReason, string HookSecret, string? PendingMessage, long QueueOrder);

/// <summary>Run statuses: queued → running ⇄ paused → completed, plus failed and cancelled.</summary>
public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>The runs service's own SQLite file: projects, agents, runs and settings.</summary>
public sealed class RunsStore
{
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE agents (
            id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL, cli_name TEXT NOT NULL, model TEXT NOT NULL, instructions TEXT NOT NULL,
            allowed_tools TEXT NOT NULL, max_turns INTEGER NOT NULL, provider_config TEXT NOT NULL, role TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE INDEX agents_project ON agents(project_id);
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, project_id TEXT NOT NULL, agent_id TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
            source_branch TEXT NOT NULL, run_branch TEXT NOT NULL, cli_name TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0, parent_run_id TEXT, notify INTEGER NOT NULL DEFAULT 0, session_id TEXT,
            failure_reason TEXT, hook_secret TEXT NOT NULL, pending_message TEXT, queue_order INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX runs_status ON runs(status, queue_order);
        CREATE INDEX runs_project ON runs(project_id);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)
        """,
    ];

    private const string RunColumns = """
        id, project_id, agent_id, task, status, source_branch, run_branch, cli_name, created_at, updated_at,
        tokens_in, tokens_out, cost_usd, parent_run_id, notify, session_id, failure_reason, hook_secret, pending_message, queue_order
        """;

    private const string AgentColumns = """
        id, project_id, name, cli_name, model, instructions, allowed_tools, max_turns, provider_config, role, created_at, updated_at
        """;

    private readonly SqliteDatabase _database;
    private long _queueOrder;

    public RunsStore(string path)
    {
        _database = new SqliteDatabase(path, Migrations);
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(queue_order), 0) FROM runs";
        _queueOrder = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public long NextQueueOrder() => Interlocked.Increment(ref _queueOrder);

    // ---- projects ----

    public async Task InsertProjectAsync(ProjectRow project, CancellationToken ct)
    {
        await ExecuteAsync("INSERT INTO projects (id, name, created_at) VALUES ($id, $name, $created)", ct,
            ("$id", project.Id), ("$name", project.Name), ("$created", Format(project.CreatedAt)));
    }

    public async Task<ProjectRow?> GetProjectAsync(string id, CancellationToken ct) =>
        (await QueryAsync("SELECT id, name, created_at FROM projects WHERE id = $id", ReadProject, ct, ("$id", id))).FirstOrDefault();

    public Task<List<ProjectRow>> ListProjectsAsync(CancellationToken ct) =>
        QueryAsync("SELECT id, name, created_at FROM projects ORDER BY created_at, id", ReadProject, ct);

    /// <summary>Deletes the project, its agents and its runs rows.</summary>
    public async Task DeleteProjectAsync(string id, CancellationToken ct)
    {
        await using var connection = await _database.OpenAsync(ct);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        foreach (var sql in new[] { "DELETE FROM runs WHERE project_id = $id", "DELETE FROM agents WHERE project_id = $id", "DELETE FROM projects WHERE id = $id" })
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$id", id);
            await command.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
    }

    // ---- agents ----

    public Task InsertAgentAsync(AgentRow a, CancellationToken ct) => ExecuteAsync(
        $"INSERT INTO agents ({AgentColumns}) VALUES ($id, $project, $name, $cli, $model, $instructions, $tools, $turns, $config, $role, $created, $updated)",
        ct, AgentParameters(a));

    public Task UpdateAgentAsync(AgentRow a, CancellationToken ct) => ExecuteAsync(
        """
        UPDATE agents SET name = $name, cli_name = $cli, model = $model, instructions = $instructions, allowed_tools = $tools,
        max_turns = $turns, provider_config = $config, role = $role, updated_at = $updated WHERE id = $id
        """, ct, AgentParameters(a));

    public async Task<AgentRow?> GetAgentAsync(string id, CancellationToken ct) =>
        (await QueryAsync($"SELECT {AgentColumns} FROM agents WHERE id = $id", ReadAgent, ct, ("$id", id))).FirstOrDefault();

    public Task<List<AgentRow>> ListAgentsAsync(string? projectId, CancellationToken ct) => projectId is null
        ? QueryAsync($"SELECT {AgentColumns} FROM agents ORDER BY created_at, id", ReadAgent, ct)
        : QueryAsync($"SELECT {AgentColumns} FROM agents WHERE project_id = $p ORDER BY created_at, id", ReadAgent, ct, ("$p", projectId));

    public async Task<bool> DeleteAgentAsync(string id, CancellationToken ct) =>
        await ExecuteAsync("DELETE FROM agents WHERE id = $id", ct, ("$id", id)) > 0;

    // ---- runs ----

    public Task InsertRunAsync(RunRow r, CancellationToken ct) => ExecuteAsync(
        $"""
        INSERT INTO runs ({RunColumns}) VALUES ($id, $project, $agent, $task, $status, $source, $branch, $cli, $created, $updated,
        $tin, $tout, $cost, $parent, $notify, $session, $reason, $secret, $pending, $order)
        """, ct,
        ("$id", r.Id), ("$project", r.ProjectId), ("$agent", r.AgentId), ("$task", r.Task), ("$status", r.Status),
        ("$source", r.SourceBranch), ("$branch", r.RunBranch), ("$cli", r.CliName), ("$created", Format(r.CreatedAt)),
        ("$updated", Format(r.UpdatedAt)), ("$tin", r.TokensIn), ("$tout", r.TokensOut), ("$cost", r.CostUsd),
        ("$parent", r.ParentRunId), ("$notify", r.Notify ? 1 : 0), ("$session", r.SessionId), ("$reason", r.FailureReason),
        ("$secret", r.HookSecret), ("$pending", r.PendingMessage), ("$order", r.QueueOrder));

    public async Task<RunRow?> GetRunAsync(string id, CancellationToken ct) =>
        (await QueryAsync($"SELECT {RunColumns} FROM runs WHERE id = $id", ReadRun, ct, ("$id", id))).FirstOrDefault();

    public Task<List<RunRow>> ListRunsAsync(string? projectId, string? status, CancellationToken ct)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        if (!string.IsNullOrEmpty(projectId))
        {
            where.Add("project_id = $p");
            parameters.Add(("$p", projectId));
        }
        if (!string.IsNullOrEmpty(status))
        {
            where.Add("status = $s");
            parameters.Add(("$s", status));
        }
        var filter = where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where);
        return QueryAsync($"SELECT {RunColumns} FROM runs {filter} ORDER BY created_at DESC, id", ReadRun, ct, [.. parameters]);
    }

    public Task<List<RunRow>> ListRunsByStatusAsync(string status, CancellationToken ct) =>
        QueryAsync($"SELECT {RunColumns} FROM runs WHERE status = $s ORDER BY queue_order, created_at", ReadRun, ct, ("$s", status));

    public async Task<Dictionary<string, long>> CountRunsByStatusAsync(CancellationToken ct)
    {
        var rows = await QueryAsync("SELECT status, COUNT(*) FROM runs GROUP BY status", r => (r.GetString(0), r.GetInt64(1)), ct);
        return rows.ToDictionary(r => r.Item1, r => r.Item2);
    }

    public async Task<Dictionary<string, long>> CountRunsByCliAsync(CancellationToken ct)
    {
        var rows = await QueryAsync("SELECT cli_name, COUNT(*) FROM runs GROUP BY cli_name", r => (r.GetString(0), r.GetInt64(1)), ct);
        return rows.ToDictionary(r => r.Item1, r => r.Item2);
    }

    /// <summary>Moves a run to <paramref name="status"/> only if it is currently in one of <paramref name="from"/>; true when it moved.</summary>
    public async Task<bool> TransitionAsync(string id, IReadOnlyCollection<string> from, string status, DateTimeOffset now, CancellationToken ct,
        string? failureReason = null, bool clearPending = false, string? pendingMessage = null, long? queueOrder = null)
    {
        var statuses = string.Join(", ", from.Select((_, i) => $"$f{i}"));
        var parameters = new List<(string, object?)>
        {
            ("$id", id), ("$status", status), ("$updated", Format(now)), ("$reason", failureReason),
            ("$pending", pendingMessage), ("$order", queueOrder),
        };
        parameters.AddRange(from.Select((f, i) => ($"$f{i}", (object?)f)));
        var pendingSql = clearPending ? ", pending_message = NULL" : pendingMessage is not null ? ", pending_message = $pending" : "";
        var orderSql = queueOrder is not null ? ", queue_order = $order" : "";
        var reasonSql = status == RunStatus.Failed ? ", failure_reason = $reason" : status is RunStatus.Running or RunStatus.Queued ? ", failure_reason = NULL" : "";
        var changed = await ExecuteAsync(
            $"UPDATE runs SET status = $status, updated_at = $updated{reasonSql}{pendingSql}{orderSql} WHERE id = $id AND status IN ({statuses})",
            ct, [.. parameters]);
        return changed > 0;
    }

    public Task SetNotifyAsync(string id, bool notify, DateTimeOffset now, CancellationToken ct) =>
        ExecuteAsync("UPDATE runs SET notify = $n, updated_at = $u WHERE id = $id", ct, ("$id", id), ("$n", notify ? 1 : 0), ("$u", Format(now)));

    public Task SetSessionIdAsync(string id, string sessionId, DateTimeOffset now, CancellationToken ct) =>
        ExecuteAsync("UPDATE runs SET session_id = $s, updated_at = $u WHERE id = $id", ct, ("$id", id), ("$s", sessionId), ("$u", Format(now)));

    /// <summary>Adds one CLI invocation's usage to the run's totals.</summary>
    public Task AddUsageAsync(string id, long tokensIn, long tokensOut, double costUsd, DateTimeOffset now, CancellationToken ct) => ExecuteAsync(
        "UPDATE runs SET tokens_in = tokens_in + $i, tokens_out = tokens_out + $o, cost_usd = cost_usd + $c, updated_at = $u WHERE id = $id",
        ct, ("$id", id), ("$i", tokensIn), ("$o", tokensOut), ("$c", costUsd), ("$u", Format(now)));

    public async Task<bool> DeleteRunAsync(string id, CancellationToken ct) =>
        await ExecuteAsync("DELETE FROM runs WHERE id = $id", ct, ("$id", id)) > 0;

    // ---- settings ----

    public async Task<string?> GetSettingAsync(string key, CancellationToken ct) =>
        (await QueryAsync("SELECT value FROM settings WHERE key = $k", r => r.GetString(0), ct, ("$k", key))).FirstOrDefault();

    public Task SetSettingAsync(string key, string value, CancellationToken ct) => ExecuteAsync(
        "INSERT INTO settings (key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ct, ("$k", key), ("$v", value));

    // ---- helpers ----

    public static string Format(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string value) => DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static (string, object?)[] AgentParameters(AgentRow a) =>
    [
        ("$id", a.Id), ("$project", a.ProjectId), ("$name", a.Name), ("$cli", a.CliName), ("$model", a.Model),
        ("$instructions", a.Instructions), ("$tools", a.AllowedTools), ("$turns", a.MaxTurns), ("$config", a.ProviderConfigJson),
        ("$role", a.Role), ("$created", Format(a.CreatedAt)), ("$updated", Format(a.UpdatedAt)),
    ];

    private static ProjectRow ReadProject(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), Parse(r.GetString(2)));

    private static AgentRow ReadAgent(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
        r.GetInt32(7), r.GetString(8), r.GetString(9), Parse(r.GetString(10)), Parse(r.GetString(11)));

    private static RunRow ReadRun(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7),
        Parse(r.GetString(8)), Parse(r.GetString(9)), r.GetInt64(10), r.GetInt64(11), r.GetDouble(12),
        r.IsDBNull(13) ? null : r.GetString(13), r.GetInt64(14) != 0, r.IsDBNull(15) ? null : r.GetString(15),
        r.IsDBNull(16) ? null : r.GetString(16), r.GetString(17), r.IsDBNull(18) ? null : r.GetString(18), r.GetInt64(19));

    private async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await _database.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> read, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await _database.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(read(reader));
        }
        return rows;
    }
}
