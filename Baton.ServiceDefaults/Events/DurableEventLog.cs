using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Baton.ServiceDefaults.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Baton.ServiceDefaults.Events;

/// <summary>One immutable row of a durable event log. <see cref="Id"/> is global and monotonic; <see cref="Sequence"/> is per stream.</summary>
public sealed record StoredEvent(long Id, string Stream, long Sequence, string EventType, string PayloadJson, DateTimeOffset CreatedAt);

/// <summary>
/// A service's append-only event log in its own SQLite file. Appends are batched through one
/// writer so bursts of thousands of events per second cost one transaction per batch. Readers get
/// "replay after id, then live" with no gap and no duplicate at the seam: a reader registers for
/// live events before it reads the database and drops live events it has already read.
/// </summary>
public sealed class DurableEventLog : IAsyncDisposable
{
    private const int MaxBatch = 1024;
    private const int LiveBuffer = 4096;
    /// <summary>What one live reader may hold, and what one catch-up page may read, whatever the size of the events.</summary>
    private const long ReaderBytes = 1024 * 1024;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            stream TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            event_type TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (stream, sequence)
        )
        """,
    ];

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<StoredEvent>? _onAppended;
    private readonly Channel<PendingAppend> _queue = Channel.CreateBounded<PendingAppend>(
        new BoundedChannelOptions(16 * MaxBatch) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Dictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<LiveReader, byte>> _live = new(StringComparer.Ordinal);
    private readonly Task _writer;

    /// <param name="onAppended">Called in id order after each commit, e.g. to publish on the event bus.</param>
    public DurableEventLog(string path, ILogger logger, TimeProvider? time = null, Action<StoredEvent>? onAppended = null)
    {
        _database = new SqliteDatabase(path, Migrations);
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _onAppended = onAppended;
        _writer = Task.Run(WriteLoopAsync);
    }

    public async Task<StoredEvent> AppendAsync(string stream, string eventType, string payloadJson, CancellationToken cancellationToken = default)
    {
        var pending = new PendingAppend(stream, eventType, payloadJson);
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Completion.Task.WaitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<StoredEvent>> ReadAsync(string stream, long afterId, int limit, CancellationToken cancellationToken = default) =>
        ReadAsync(stream, afterId, limit, long.MaxValue, cancellationToken);

    /// <summary>At most <paramref name="limit"/> events after <paramref name="afterId"/>, stopping once <paramref name="maxBytes"/> of payload are read (always at least one).</summary>
    public async Task<IReadOnlyList<StoredEvent>> ReadAsync(string stream, long afterId, int limit, long maxBytes, CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, stream, sequence, event_type, payload, created_at FROM events
            WHERE stream = $stream AND id > $after ORDER BY id LIMIT $limit
            """;
        command.Parameters.AddWithValue("$stream", stream);
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$limit", limit);
        var events = new List<StoredEvent>();
        long bytes = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (bytes < maxBytes && await reader.ReadAsync(cancellationToken))
        {
            var stored = new StoredEvent(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4),
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture));
            events.Add(stored);
            bytes += SizeOf(stored);
        }
        return events;
    }

    /// <summary>Every event of the stream after <paramref name="afterId"/>, then live ones, each exactly once, in id order.</summary>
    public async IAsyncEnumerable<StoredEvent> StreamAsync(string stream, long afterId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var live = new LiveReader();
        var readers = _live.GetOrAdd(stream, _ => new());
        readers.TryAdd(live, 0);
        try
        {
            var last = afterId;
            while (true)
            {
                // Reset before reading the database: anything committed from here on is either read below or buffered live.
                Interlocked.Exchange(ref live.Overflowed, 0);
                while (true)
                {
                    // Pages are bounded in bytes too, so a slow reader of large events holds little while it catches up.
                    var page = await ReadAsync(stream, last, 2000, ReaderBytes, cancellationToken);
                    foreach (var stored in page)
                    {
                        yield return stored;
                        last = stored.Id;
                    }
                    if (page.Count == 0)
                    {
                        break;
                    }
                }

                while (Volatile.Read(ref live.Overflowed) == 0 && await live.Buffer.Reader.WaitToReadAsync(cancellationToken))
                {
                    while (Volatile.Read(ref live.Overflowed) == 0 && live.Buffer.Reader.TryRead(out var next))
                    {
                        if (next.Id > last)
                        {
                            yield return next;
                            last = next.Id;
                        }
                    }
                }
                // The live buffer overflowed: drop it and catch up from the database.
                while (live.Buffer.Reader.TryRead(out _))
                {
                }
            }
        }
        finally
        {
            readers.TryRemove(live, out _);
        }
    }

    public async Task<long> DeleteStreamAsync(string stream, CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM events WHERE stream = $stream";
        command.Parameters.AddWithValue("$stream", stream);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
        lock (_lastSequence)
        {
            _lastSequence.Remove(stream);
        }
        return deleted;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM events";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private async Task WriteLoopAsync()
    {
        using var connection = _database.Open();
        var batch = new List<PendingAppend>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }
            List<StoredEvent> written;
            try
            {
                written = WriteBatch(connection, batch);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Writing {Count} events failed", batch.Count);
                lock (_lastSequence)
                {
                    _lastSequence.Clear();
                }
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(ex);
                }
                continue;
            }
            for (var i = 0; i < batch.Count; i++)
            {
                Publish(written[i]);
                batch[i].Completion.TrySetResult(written[i]);
            }
        }
    }

    private List<StoredEvent> WriteBatch(SqliteConnection connection, List<PendingAppend> batch)
    {
        var written = new List<StoredEvent>(batch.Count);
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO events (stream, sequence, event_type, payload, created_at)
            VALUES ($stream, $sequence, $type, $payload, $created) RETURNING id
            """;
        var stream = insert.Parameters.Add("$stream", SqliteType.Text);
        var sequence = insert.Parameters.Add("$sequence", SqliteType.Integer);
        var type = insert.Parameters.Add("$type", SqliteType.Text);
        var payload = insert.Parameters.Add("$payload", SqliteType.Text);
        var created = insert.Parameters.Add("$created", SqliteType.Text);
        var now = _time.GetUtcNow();
        var assigned = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var pending in batch)
        {
            if (!assigned.TryGetValue(pending.Stream, out var last))
            {
                last = LastSequence(connection, transaction, pending.Stream);
            }
            assigned[pending.Stream] = ++last;
            stream.Value = pending.Stream;
            sequence.Value = last;
            type.Value = pending.EventType;
            payload.Value = pending.PayloadJson;
            created.Value = now.ToString("O", CultureInfo.InvariantCulture);
            var id = (long)insert.ExecuteScalar()!;
            written.Add(new StoredEvent(id, pending.Stream, last, pending.EventType, pending.PayloadJson, now));
        }
        transaction.Commit();
        lock (_lastSequence)
        {
            foreach (var (name, value) in assigned)
            {
                _lastSequence[name] = value;
            }
        }
        return written;
    }

    private long LastSequence(SqliteConnection connection, SqliteTransaction transaction, string stream)
    {
        lock (_lastSequence)
        {
            if (_lastSequence.TryGetValue(stream, out var cached))
            {
                return cached;
            }
        }
        using var query = connection.CreateCommand();
        query.Transaction = transaction;
        query.CommandText = "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE stream = $stream";
        query.Parameters.AddWithValue("$stream", stream);
        return Convert.ToInt64(query.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private void Publish(StoredEvent stored)
    {
        if (_live.TryGetValue(stored.Stream, out var readers))
        {
            foreach (var reader in readers.Keys)
            {
                if (!reader.Buffer.TryWrite(stored))
                {
                    Interlocked.Exchange(ref reader.Overflowed, 1);
                }
            }
        }
        try
        {
            _onAppended?.Invoke(stored);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Forwarding event {Id} failed; it stays durable in the log", stored.Id);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private sealed record PendingAppend(string Stream, string EventType, string PayloadJson)
    {
        public TaskCompletionSource<StoredEvent> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    internal static long SizeOf(StoredEvent stored) => 2L * (stored.PayloadJson.Length + stored.EventType.Length + stored.Stream.Length) + 64;

    private sealed class LiveReader
    {
        public readonly BoundedBuffer<StoredEvent> Buffer = new(LiveBuffer, ReaderBytes, SizeOf);
        public int Overflowed;
    }
}
