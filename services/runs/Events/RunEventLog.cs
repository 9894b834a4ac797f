using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Runs.V1;
using Baton.ServiceDefaults.Events;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Runs.Events;

/// <summary>
/// The per-run event log (one DurableEventLog stream per run id, batched writes) and its live
/// copy on the event bus (topic <see cref="Topic"/>) for other services and gateway replicas.
/// </summary>
public sealed class RunEventLog : IAsyncDisposable
{
    public static readonly EventTopic<EventEnvelope> Topic = new("runs.events");

    private readonly DurableEventLog _log;
    // Live copies wait here while the bus is slow; past the budget they are dropped (they stay durable in the log).
    private readonly BoundedBuffer<StoredEvent> _outbox = new(16 * 1024, 8 * 1024 * 1024, e => 2L * e.PayloadJson.Length + 64);
    private readonly Task _publisher;

    public RunEventLog(string path, IEventBus bus, ILogger<RunEventLog> logger, TimeProvider time)
    {
        _log = new DurableEventLog(path, logger, time, stored => _outbox.TryWrite(stored));
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
                    logger.LogDebug(ex, "Publishing run event {Id} failed; it stays durable", stored.Id);
                }
            }
        });
    }

    public Task<StoredEvent> AppendAsync(string runId, string eventType, JsonObject payload, CancellationToken cancellationToken = default) =>
        _log.AppendAsync(runId, eventType, payload.ToJsonString(), cancellationToken);

    public Task<IReadOnlyList<StoredEvent>> ReadAsync(string runId, long afterId, int limit, CancellationToken cancellationToken = default) =>
        _log.ReadAsync(runId, afterId, limit, cancellationToken);

    public IAsyncEnumerable<StoredEvent> StreamAsync(string runId, long afterId, CancellationToken cancellationToken) =>
        _log.StreamAsync(runId, afterId, cancellationToken);

    public Task<long> DeleteAsync(string runId, CancellationToken cancellationToken = default) => _log.DeleteStreamAsync(runId, cancellationToken);

    public static RunEvent ToProto(StoredEvent stored) => new()
    {
        Id = stored.Id,
        RunId = stored.Stream,
        Sequence = stored.Sequence,
        EventType = stored.EventType,
        Payload = ParsePayload(stored.PayloadJson),
        CreatedAt = Timestamp.FromDateTimeOffset(stored.CreatedAt),
    };

    private static Struct ParsePayload(string json)
    {
        try
        {
            return Struct.Parser.ParseJson(json);
        }
        catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or InvalidOperationException or FormatException)
        {
            return new Struct { Fields = { ["raw"] = Value.ForString(json) } };
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _log.DisposeAsync();
        _outbox.TryComplete();
        await _publisher;
    }
}
