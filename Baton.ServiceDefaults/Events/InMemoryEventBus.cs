using System.Text.Json;

namespace Baton.ServiceDefaults.Events;

/// <summary>The in-process twin of <see cref="RedisEventBus"/>, with the same delivery semantics.</summary>
public sealed class InMemoryEventBus : IEventBus
{
    private readonly TopicFanOut _fanOut = new();

    public Task PublishAsync<T>(EventTopic<T> topic, T message, CancellationToken cancellationToken = default)
    {
        _fanOut.Deliver(topic.Name, JsonSerializer.Serialize(message, BusJson.Options));
        return Task.CompletedTask;
    }

    public Task<IEventSubscription<T>> SubscribeAsync<T>(EventTopic<T> topic, int capacity = 1024, CancellationToken cancellationToken = default)
    {
        var subscriber = _fanOut.Add(topic.Name, capacity, s => _fanOut.Remove(s));
        return Task.FromResult<IEventSubscription<T>>(new Subscription<T>(subscriber));
    }

    /// <summary>Simulates a broker reconnect in tests.</summary>
    public void SimulateReconnect() => _fanOut.SignalGapToAll();
}
