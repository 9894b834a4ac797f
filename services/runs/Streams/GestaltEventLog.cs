using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Contracts.Common.V1;
using Baton.ServiceDefaults.Events;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Runs.Streams;

/// <summary>One event of the 000_* streams as stored: its global id, stream, payload type and JSON payload.</summary>
public sealed record GestaltEventRecord(long Id, GestaltStream Stream, string Type, string PayloadJson, DateTimeOffset CreatedAt)
{
    public JsonObject Payload() => JsonNode.Parse(PayloadJson) as JsonObject ?? [];
}

/// <summary>
/// The durable <see cref="IGestaltEventSink"/>: every event is appended to one DurableEventLog
/// stream (so one monotonically increasing id orders all five streams and any filter of them
/// resumes by id), then published on the event bus (topic <see cref="Topic"/>) for other services
/// and gateway replicas, and handed to in-process listeners (the flow engine) without blocking.
/// </summary>
public sealed class GestaltEventLog : IGestaltEventSink, IAsyncDisposable
{
    public const string LogStream = "gestalt";
    public static readonly EventTopic<EventEnvelope> Topic = new("runs.gestalt-events");

    private readonly DurableEventLog _log;
    private readonly TimeProvider _time;
    private readonly Channel<StoredEvent> _outbox = Channel.CreateBounded<StoredEvent>(
        new BoundedChannelOptions(16 * 1024) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });
    private readonly Task _publisher;
    private readonly Lock _listenersLock = new();
    private ImmutableListeners _listeners = new([]);

    public GestaltEventLog(string path, IEventBus bus, ILogger<GestaltEventLog> logger, TimeProvider time)
    {
        _time = time;
        _log = new DurableEventLog(path, logger, time, stored =>
        {
            _outbox.Writer.TryWrite(stored);
            if (ToRecord(stored) is { } record)
            {
                foreach (var listener in _listeners.Items)
                {
                    listener.TryWrite(record);
                }
            }
        });
        _publisher = Task.Run(async () =>
        {
            await foreach (var stored in _outbox.Reader.ReadAllAsync())
            {
                try
                {
                    await bus.PublishAsync(Topic, new EventEnvelope
                    {
                        Id = stored.Id,
                        Stream = stored.Stream,
                        Sequence = stored.Sequence,
                        EventType = stored.EventType,
                        PayloadJson = stored.PayloadJson,
                        CreatedAt = Timestamp.FromDateTimeOffset(stored.CreatedAt),
                        Source = "runs",
                    });
                }
                catch (Exception ex)
                {
                    logger.LogDebug(ex, "Publishing gestalt event {Id} failed; it stays durable", stored.Id);
                }
            }
        });
    }

    /// <summary>Readers of the watcher stream and watcher-triggered flows; watching runs while it is above zero.</summary>
    public WatcherDemand WatcherDemand { get; } = new();

    public async ValueTask PublishAsync(GestaltStream stream, JsonObject payload, CancellationToken cancellationToken = default) =>
        await AppendAsync(stream, payload, cancellationToken);

    public async Task<GestaltEventRecord> AppendAsync(GestaltStream stream, JsonObject payload, CancellationToken cancellationToken = default)
    {
        var type = payload["type"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string)payload["type"]! : "";
        if (type.Length == 0)
        {
            throw new ArgumentException("a gestalt event payload needs a string \"type\"", nameof(payload));
        }
        if (payload["timestamp"] is null)
        {
            payload["timestamp"] = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        }
        var stored = await _log.AppendAsync(LogStream, EventType(stream, type), payload.ToJsonString(), cancellationToken);
        return ToRecord(stored)!;
    }

    /// <summary>
    /// The events of <paramref name="streams"/> whose type (or stream name) is in <paramref name="types"/>
    /// (empty: all) after <paramref name="afterId"/> (null: only new ones), then live ones, each once, in id order.
    /// </summary>
    public async IAsyncEnumerable<GestaltEventRecord> StreamAsync(IReadOnlySet<GestaltStream> streams, IReadOnlySet<string> types, long? afterId,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var after = afterId ?? await LastIdAsync(cancellationToken);
        var demand = streams.Contains(GestaltStream.Watcher) ? WatcherDemand.Acquire() : null;
        try
        {
            await foreach (var stored in _log.StreamAsync(LogStream, after, cancellationToken))
            {
                if (ToRecord(stored) is { } record && streams.Contains(record.Stream)
                    && (types.Count == 0 || types.Contains(record.Type) || types.Contains(StreamName(record.Stream))))
                {
                    yield return record;
                }
            }
        }
        finally
        {
            demand?.Dispose();
        }
    }

    /// <summary>The newest id so far: a reader that wants only new events starts after it.</summary>
    public Task<long> LastIdAsync(CancellationToken cancellationToken) => _log.LastIdAsync(cancellationToken);

    /// <summary>An in-process live feed of every event appended from now on (bounded: a listener that falls behind loses the oldest).</summary>
    public ChannelReader<GestaltEventRecord> Listen(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<GestaltEventRecord>(new BoundedChannelOptions(8192) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_listenersLock)
        {
            _listeners = new([.. _listeners.Items, channel.Writer]);
        }
        cancellationToken.Register(() =>
        {
            lock (_listenersLock)
            {
                _listeners = new([.. _listeners.Items.Where(w => w != channel.Writer)]);
            }
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    public Task<long> TrimAsync(int keep, DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        _log.TrimStreamAsync(LogStream, keep, olderThan, cancellationToken);

    public static string StreamName(GestaltStream stream) => stream.ToString().ToLowerInvariant();

    public static bool TryParseStream(string name, out GestaltStream stream) =>
        System.Enum.TryParse(name, ignoreCase: true, out stream) && System.Enum.IsDefined(stream) && !int.TryParse(name, out _);

    private static string EventType(GestaltStream stream, string type) => StreamName(stream) + "/" + type;

    private static GestaltEventRecord? ToRecord(StoredEvent stored)
    {
        var slash = stored.EventType.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && TryParseStream(stored.EventType[..slash], out var stream)
            ? new GestaltEventRecord(stored.Id, stream, stored.EventType[(slash + 1)..], stored.PayloadJson, stored.CreatedAt)
            : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _log.DisposeAsync();
        _outbox.Writer.TryComplete();
        await _publisher;
    }

    private sealed record ImmutableListeners(ChannelWriter<GestaltEventRecord>[] Items);
}

/// <summary>Counts who needs the file and git watchers; they run while the count is above zero.</summary>
public sealed class WatcherDemand
{
    private int _count;

    public event Action? Changed;

    public bool Active => Volatile.Read(ref _count) > 0;

    public IDisposable Acquire()
    {
        Interlocked.Increment(ref _count);
        Changed?.Invoke();
        return new Release(this);
    }

    private sealed class Release(WatcherDemand owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._count);
                owner.Changed?.Invoke();
            }
        }
    }
}
