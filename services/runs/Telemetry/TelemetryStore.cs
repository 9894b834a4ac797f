using System.Globalization;
using System.Text.Json.Nodes;
using Baton.ServiceDefaults.Storage;

namespace Baton.Runs.Telemetry;

public enum TelemetryKind
{
    Trace,
    Metric,
    Log,
}

/// <summary>One received span, metric or log record as OTLP-JSON, with the columns queries filter on.</summary>
public sealed record TelemetryRecord(TelemetryKind Kind, long TimeUnixNano, string TraceId, string Name, string Service, string Subject, JsonObject Record);

public sealed record TelemetryQuery(TelemetryKind Kind, int Limit, string? TraceId, string? Name, long? SinceUnixNano, long? UntilUnixNano, string? Text);

/// <summary>
/// OpenTelemetry records in the runs service's own SQLite file (<c>otel.db</c>), bounded by count
/// per kind and by age (<c>BATON_OTEL_MAX_RECORDS</c>, <c>BATON_OTEL_MAX_AGE_HOURS</c>).
/// </summary>
public sealed class TelemetryStore
{
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE otel_records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            time_unix_nano INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            trace_id TEXT NOT NULL,
            name TEXT NOT NULL,
            service TEXT NOT NULL,
            subject TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX otel_kind_id ON otel_records (kind, id);
        CREATE INDEX otel_kind_trace ON otel_records (kind, trace_id);
        CREATE INDEX otel_kind_name ON otel_records (kind, name);
        CREATE INDEX otel_received ON otel_records (received_at);
        """,
    ];

    private readonly SqliteDatabase _database;
    private readonly TelemetryOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _write = new(1, 1);
    private int _sinceTrim;
    private DateTimeOffset _lastTrim;

    public TelemetryStore(string path, TelemetryOptions options, TimeProvider time)
    {
        _database = new SqliteDatabase(path, Migrations);
        _options = options;
        _time = time;
        _lastTrim = time.GetUtcNow();
    }

    public async Task AddAsync(IReadOnlyList<TelemetryRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return;
        }
        await _write.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await _database.OpenAsync(cancellationToken);
            await using var transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO otel_records (kind, time_unix_nano, received_at, trace_id, name, service, subject, record)
                VALUES ($kind, $time, $received, $trace, $name, $service, $subject, $record)
                """;
            var kind = insert.Parameters.Add("$kind", Microsoft.Data.Sqlite.SqliteType.Text);
            var timeNano = insert.Parameters.Add("$time", Microsoft.Data.Sqlite.SqliteType.Integer);
            var received = insert.Parameters.Add("$received", Microsoft.Data.Sqlite.SqliteType.Integer);
            var trace = insert.Parameters.Add("$trace", Microsoft.Data.Sqlite.SqliteType.Text);
            var name = insert.Parameters.Add("$name", Microsoft.Data.Sqlite.SqliteType.Text);
            var service = insert.Parameters.Add("$service", Microsoft.Data.Sqlite.SqliteType.Text);
            var subject = insert.Parameters.Add("$subject", Microsoft.Data.Sqlite.SqliteType.Text);
            var record = insert.Parameters.Add("$record", Microsoft.Data.Sqlite.SqliteType.Text);
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var r in records)
            {
                kind.Value = KindName(r.Kind);
                timeNano.Value = r.TimeUnixNano;
                received.Value = now;
                trace.Value = r.TraceId;
                name.Value = r.Name;
                service.Value = r.Service;
                subject.Value = r.Subject;
                record.Value = r.Record.ToJsonString();
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            _sinceTrim += records.Count;
            if (_sinceTrim >= 1000 || _time.GetUtcNow() - _lastTrim > TimeSpan.FromMinutes(1))
            {
                await TrimAsync(connection, cancellationToken);
            }
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>The newest <see cref="TelemetryQuery.Limit"/> matching records, oldest first.</summary>
    public async Task<List<string>> QueryAsync(TelemetryQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var sql = new System.Text.StringBuilder("SELECT record FROM otel_records WHERE kind = $kind");
        command.Parameters.AddWithValue("$kind", KindName(query.Kind));
        if (!string.IsNullOrEmpty(query.TraceId))
        {
            sql.Append(" AND trace_id = $trace");
            command.Parameters.AddWithValue("$trace", query.TraceId.ToLowerInvariant());
        }
        if (!string.IsNullOrEmpty(query.Name))
        {
            sql.Append(" AND name = $name");
            command.Parameters.AddWithValue("$name", query.Name);
        }
        if (query.SinceUnixNano is { } since)
        {
            sql.Append(" AND time_unix_nano >= $since");
            command.Parameters.AddWithValue("$since", since);
        }
        if (query.UntilUnixNano is { } until)
        {
            sql.Append(" AND time_unix_nano <= $until");
            command.Parameters.AddWithValue("$until", until);
        }
        if (!string.IsNullOrEmpty(query.Text))
        {
            sql.Append(" AND record LIKE $text ESCAPE '\\'");
            command.Parameters.AddWithValue("$text", "%" + query.Text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%");
        }
        sql.Append(" ORDER BY id DESC LIMIT $limit");
        command.Parameters.AddWithValue("$limit", query.Limit);
        command.CommandText = sql.ToString();
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(reader.GetString(0));
        }
        rows.Reverse();
        return rows;
    }

    private async Task TrimAsync(Microsoft.Data.Sqlite.SqliteConnection connection, CancellationToken cancellationToken)
    {
        _sinceTrim = 0;
        _lastTrim = _time.GetUtcNow();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            DELETE FROM otel_records WHERE received_at < $before;
            DELETE FROM otel_records WHERE kind = 'trace' AND id <= COALESCE((SELECT id FROM otel_records WHERE kind = 'trace' ORDER BY id DESC LIMIT 1 OFFSET $keep), 0);
            DELETE FROM otel_records WHERE kind = 'metric' AND id <= COALESCE((SELECT id FROM otel_records WHERE kind = 'metric' ORDER BY id DESC LIMIT 1 OFFSET $keep), 0);
            DELETE FROM otel_records WHERE kind = 'log' AND id <= COALESCE((SELECT id FROM otel_records WHERE kind = 'log' ORDER BY id DESC LIMIT 1 OFFSET $keep), 0);
            """;
        command.Parameters.AddWithValue("$before", (_time.GetUtcNow() - _options.MaxAge).ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$keep", _options.MaxRecords);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<long> CountAsync(TelemetryKind kind, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM otel_records WHERE kind = $kind";
        command.Parameters.AddWithValue("$kind", KindName(kind));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static string KindName(TelemetryKind kind) => kind.ToString().ToLowerInvariant();
}

/// <summary>Settings of the OpenTelemetry receiver and of agent CLIs' telemetry.</summary>
public sealed record TelemetryOptions
{
    /// <summary>BATON_OTEL_MAX_RECORDS: records kept per kind (traces, metrics, logs), newest first (100,000).</summary>
    public int MaxRecords { get; init; } = 100_000;

    /// <summary>BATON_OTEL_MAX_AGE_HOURS: records older than this are dropped (72).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(72);

    /// <summary>BATON_AGENT_TELEMETRY=0 keeps agent CLIs' own telemetry off.</summary>
    public bool AgentTelemetry { get; init; } = true;

    /// <summary>BATON_AGENT_OTEL_EXPORT_INTERVAL_MS: how often agent CLIs export metrics and logs (5,000).</summary>
    public int AgentExportIntervalMs { get; init; } = 5000;

    public static TelemetryOptions FromConfiguration(IConfiguration configuration)
    {
        static int Int(string? value, int fallback) => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
        return new TelemetryOptions
        {
            MaxRecords = Int(configuration["BATON_OTEL_MAX_RECORDS"], 100_000),
            MaxAge = TimeSpan.FromHours(double.TryParse(configuration["BATON_OTEL_MAX_AGE_HOURS"], NumberStyles.Float, CultureInfo.InvariantCulture, out var h) && h > 0 ? h : 72),
            AgentTelemetry = configuration["BATON_AGENT_TELEMETRY"] is not ("0" or "false"),
            AgentExportIntervalMs = Int(configuration["BATON_AGENT_OTEL_EXPORT_INTERVAL_MS"], 5000),
        };
    }
}
