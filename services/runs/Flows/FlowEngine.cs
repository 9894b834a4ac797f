using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Contracts.Common.V1;
using Baton.Runs.Events;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Events;

namespace Baton.Runs.Flows;

/// <summary>
/// Runs flows: events from the watchers (file-change, git-commit, git-branch), notify events
/// handed to <see cref="IFlowDispatcher"/>, run events and inbound webhooks (the integrations
/// service's webhook bindings, type <c>webhook.&lt;binding&gt;</c>) from the event bus are matched against
/// the triggers (NOTES §1.5 <c>where</c>), deduplicated by event id, and each matching binding's
/// activity runs off the event loop. Failures are logged with the trigger and the event id.
/// </summary>
public sealed class FlowEngine(
    FlowStore store, FlowActivityRunner activities, GestaltEventLog events, IEventBus bus, ILogger<FlowEngine> logger)
    : BackgroundService, IFlowDispatcher
{
    private const int QueueCapacity = 16 * 1024;
    private const int SeenCapacity = 10_000;
    private const int MaxConcurrentActivities = 16;

    private readonly Channel<FlowEvent> _queue = Channel.CreateBounded<FlowEvent>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true });
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Queue<string> _seenOrder = new();
    private readonly SemaphoreSlim _running = new(MaxConcurrentActivities, MaxConcurrentActivities);
    private readonly Lock _demandLock = new();
    private IDisposable? _watcherDemand;
    private long _generated;

    /// <summary>Completed activities (succeeded or failed), for tests and the benchmark to wait on.</summary>
    public long ActivitiesCompleted => Interlocked.Read(ref _activitiesCompleted);

    private long _activitiesCompleted;

    public ValueTask DispatchAsync(string eventType, JsonObject fields, string? eventId, CancellationToken cancellationToken = default)
    {
        var flat = FlowEvent.Flatten(fields);
        flat["type"] = eventType;
        if (flat.TryGetValue("session.id", out var session))
        {
            flat.TryAdd("session_id", session);
        }
        else if (flat.TryGetValue("session_id", out session))
        {
            flat["session.id"] = session;
        }
        Enqueue(new FlowEvent(eventType, flat, string.IsNullOrEmpty(eventId) ? $"dispatch:{Interlocked.Increment(ref _generated)}:{Guid.NewGuid():N}" : eventId));
        return ValueTask.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        store.Changed += UpdateWatcherDemand;
        UpdateWatcherDemand(store.Current);
        var watcher = events.Listen(stoppingToken);
        var fromWatchers = Task.Run(() => ReadWatcherEventsAsync(watcher, stoppingToken), stoppingToken);
        var fromRuns = Task.Run(() => ReadBusAsync(RunEventLog.Topic, "Run events", e => e.EventType, FromRunEvent, stoppingToken), stoppingToken);
        var fromWebhooks = Task.Run(() => ReadBusAsync(WebhookReceived.Topic, "Webhooks", w => w.Type, FromWebhook, stoppingToken), stoppingToken);
        var pending = new HashSet<Task>();
        try
        {
            await foreach (var evt in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (!FirstTime(evt.EventId))
                {
                    logger.LogDebug("Flow event {EventId} was seen before; skipped", evt.EventId);
                    continue;
                }
                foreach (var flow in store.Current.Flows.Where(f => FlowMatching.Matches(f.Trigger, evt)))
                {
                    foreach (var binding in flow.Bindings)
                    {
                        await _running.WaitAsync(stoppingToken);
                        var task = RunActivityAsync(flow.Trigger, binding, evt, stoppingToken);
                        lock (pending)
                        {
                            pending.Add(task);
                        }
                        _ = task.ContinueWith(t =>
                        {
                            lock (pending)
                            {
                                pending.Remove(t);
                            }
                        }, TaskScheduler.Default);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        Task[] left;
        lock (pending)
        {
            left = [.. pending];
        }
        await Task.WhenAll(left.Append(fromWatchers).Append(fromRuns).Append(fromWebhooks)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task RunActivityAsync(FlowTrigger trigger, FlowBinding binding, FlowEvent evt, CancellationToken cancellationToken)
    {
        try
        {
            await activities.RunAsync(trigger, binding, evt, cancellationToken);
            logger.LogInformation("Flow {TriggerId} ran {ActivityId} for event {EventId} ({EventType})", trigger.Id, binding.ActivityId, evt.EventId, evt.Type);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Flow {TriggerId} activity {ActivityId} for event {EventId} was interrupted by shutdown", trigger.Id, binding.ActivityId, evt.EventId);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex is ActivityFailedException ? null : ex, "Flow {TriggerId} activity {ActivityId} failed for event {EventId} ({EventType}): {Reason}",
                trigger.Id, binding.ActivityId, evt.EventId, evt.Type, ex.Message);
        }
        finally
        {
            Interlocked.Increment(ref _activitiesCompleted);
            _running.Release();
        }
    }

    private async Task ReadWatcherEventsAsync(ChannelReader<GestaltEventRecord> reader, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var record in reader.ReadAllAsync(cancellationToken))
            {
                if (record.Stream != GestaltStream.Watcher || !HasTriggerFor(record.Type))
                {
                    continue;
                }
                var payload = record.Payload();
                var fields = FlowEvent.Flatten(payload);
                fields["type"] = record.Type;
                var eventId = fields.TryGetValue("event_id", out var given) && given.Length > 0 ? given : $"gestalt:{record.Id}";
                Enqueue(new FlowEvent(record.Type, fields, eventId));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReadBusAsync<T>(EventTopic<T> topic, string what, Func<T, string> typeOf, Func<T, FlowEvent> toEvent, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var subscription = await bus.SubscribeAsync(topic, 8192, cancellationToken);
                await foreach (var delivery in subscription.ReadAllAsync(cancellationToken))
                {
                    if (delivery.IsGap)
                    {
                        logger.LogWarning("The event bus reconnected; {What} published meanwhile did not reach flows", what);
                    }
                    else if (delivery.Message is { } message && HasTriggerFor(typeOf(message)))
                    {
                        Enqueue(toEvent(message));
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex is SubscriberTooSlowException ? null : ex, "{What} for flows: subscription failed ({Reason}); resubscribing", what, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    /// <summary>
    /// A webhook as flows see it: the JSON body under <c>data.</c> (so <c>where: {data.action: opened}</c>
    /// and <c>{{data.pull_request.title}}</c> work), the forwarded headers under <c>headers.</c>, and
    /// <c>binding</c>, <c>provider</c>, <c>timestamp</c>; deduplicated by the delivery's id.
    /// </summary>
    internal static FlowEvent FromWebhook(WebhookReceived webhook)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (webhook.Payload is { } payload)
        {
            if (JsonNode.Parse(payload.GetRawText()) is JsonObject body)
            {
                foreach (var (key, value) in FlowEvent.Flatten(body, "data."))
                {
                    fields[key] = value;
                }
            }
            else
            {
                fields["data"] = payload.GetRawText();
            }
        }
        foreach (var (name, value) in webhook.Headers)
        {
            fields["headers." + name] = value;
        }
        fields["type"] = webhook.Type;
        fields["binding"] = webhook.Binding;
        fields["provider"] = webhook.Provider ?? "";
        fields["timestamp"] = webhook.ReceivedAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        return new FlowEvent(webhook.Type, fields, $"webhook:{webhook.Id}");
    }

    private static FlowEvent FromRunEvent(EventEnvelope envelope)
    {
        var payload = JsonNode.Parse(string.IsNullOrEmpty(envelope.PayloadJson) ? "{}" : envelope.PayloadJson) as JsonObject ?? [];
        var fields = FlowEvent.Flatten(payload);
        foreach (var (key, value) in FlowEvent.Flatten(payload, "data."))
        {
            fields[key] = value;
        }
        fields["type"] = envelope.EventType;
        fields["run_id"] = envelope.Stream;
        fields["timestamp"] = envelope.CreatedAt?.ToDateTimeOffset().UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "";
        return new FlowEvent(envelope.EventType, fields, $"run-event:{envelope.Id}");
    }

    private bool HasTriggerFor(string type) => store.Current.Flows.Any(f => f.Trigger.EventType == type);

    private void Enqueue(FlowEvent evt)
    {
        if (!_queue.Writer.TryWrite(evt))
        {
            logger.LogError("Flow queue is full ({Capacity} events): event {EventId} ({EventType}) was not processed", QueueCapacity, evt.EventId, evt.Type);
        }
    }

    private bool FirstTime(string eventId)
    {
        if (!_seen.Add(eventId))
        {
            return false;
        }
        _seenOrder.Enqueue(eventId);
        if (_seenOrder.Count > SeenCapacity)
        {
            _seen.Remove(_seenOrder.Dequeue());
        }
        return true;
    }

    /// <summary>A flow on a watcher event keeps the file and git watchers running.</summary>
    private void UpdateWatcherDemand(FlowConfig config)
    {
        var wanted = config.Flows.Any(f => FlowCatalog.WatcherEventTypes.Contains(f.Trigger.EventType));
        lock (_demandLock)
        {
            if (wanted && _watcherDemand is null)
            {
                _watcherDemand = events.WatcherDemand.Acquire();
            }
            else if (!wanted && _watcherDemand is not null)
            {
                _watcherDemand.Dispose();
                _watcherDemand = null;
            }
        }
    }

    public override void Dispose()
    {
        store.Changed -= UpdateWatcherDemand;
        lock (_demandLock)
        {
            _watcherDemand?.Dispose();
            _watcherDemand = null;
        }
        base.Dispose();
    }
}
