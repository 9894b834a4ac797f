using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;

namespace Baton.ServiceDefaults.Events;

/// <summary>
/// Local fan-out of one process's subscribers. Each subscriber has its own bounded buffer; a full
/// buffer cuts that subscriber off and never blocks the publisher or the other subscribers.
/// </summary>
internal sealed class TopicFanOut
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<LocalSubscriber, byte>> _byTopic = new();

    public bool HasSubscribers(string topic) => _byTopic.TryGetValue(topic, out var set) && !set.IsEmpty;

    public LocalSubscriber Add(string topic, int capacity, Action<LocalSubscriber> onDispose)
    {
        var subscriber = new LocalSubscriber(topic, capacity, onDispose);
        _byTopic.GetOrAdd(topic, _ => new()).TryAdd(subscriber, 0);
        return subscriber;
    }

    /// <summary>Returns true when the topic has no subscribers left.</summary>
    public bool Remove(LocalSubscriber subscriber)
    {
        if (!_byTopic.TryGetValue(subscriber.Topic, out var set))
        {
            return true;
        }
        set.TryRemove(subscriber, out _);
        return set.IsEmpty;
    }

    public void Deliver(string topic, string json)
    {
        if (_byTopic.TryGetValue(topic, out var set))
        {
            foreach (var subscriber in set.Keys)
            {
                subscriber.Offer(new RawDelivery(json, false));
            }
        }
    }

    public void SignalGapToAll()
    {
        foreach (var set in _byTopic.Values)
        {
            foreach (var subscriber in set.Keys)
            {
                subscriber.Offer(new RawDelivery(null, true));
            }
        }
    }
}

internal readonly record struct RawDelivery(string? Json, bool IsGap);

internal sealed class LocalSubscriber(string topic, int capacity, Action<LocalSubscriber> onDispose)
{
    /// <summary>However many messages a subscriber may queue, it never holds more than this.</summary>
    public const long MaxBytes = 4 * 1024 * 1024;

    private readonly BoundedBuffer<RawDelivery> _buffer = new(capacity, MaxBytes, d => 2L * (d.Json?.Length ?? 0) + 32);

    public string Topic { get; } = topic;

    public void Offer(RawDelivery delivery)
    {
        if (!_buffer.TryWrite(delivery))
        {
            _buffer.TryComplete(new SubscriberTooSlowException(Topic, capacity));
        }
    }

    public async IAsyncEnumerable<BusDelivery<T>> ReadAllAsync<T>([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var raw in _buffer.Reader.ReadAllAsync(cancellationToken))
        {
            if (raw.IsGap)
            {
                yield return new BusDelivery<T>(default, true);
                continue;
            }
            yield return new BusDelivery<T>(JsonSerializer.Deserialize<T>(raw.Json!, BusJson.Options), false);
        }
    }

    public void Close()
    {
        _buffer.TryComplete();
        onDispose(this);
    }
}

internal sealed class Subscription<T>(LocalSubscriber subscriber) : IEventSubscription<T>
{
    public IAsyncEnumerable<BusDelivery<T>> ReadAllAsync(CancellationToken cancellationToken = default) =>
        subscriber.ReadAllAsync<T>(cancellationToken);

    public ValueTask DisposeAsync()
    {
        subscriber.Close();
        return ValueTask.CompletedTask;
    }
}
