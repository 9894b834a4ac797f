using System.Text.Json;

namespace Baton.ServiceDefaults.Events;

/// <summary>A named topic that carries messages of one type.</summary>
public sealed record EventTopic<T>(string Name);

/// <summary>
/// What a subscriber receives: a message, or a gap marker saying messages may have been lost
/// (after a Redis reconnect), so the subscriber should resynchronise from the owner's durable log.
/// </summary>
public readonly record struct BusDelivery<T>(T? Message, bool IsGap);

/// <summary>Thrown to a subscriber that fell behind its bounded buffer: it was cut off and should resume by id.</summary>
public sealed class SubscriberTooSlowException(string topic, int capacity)
    : Exception($"subscriber to '{topic}' fell more than {capacity} messages behind (or past its byte budget) and was cut off");

public interface IEventSubscription<T> : IAsyncDisposable
{
    IAsyncEnumerable<BusDelivery<T>> ReadAllAsync(CancellationToken cancellationToken = default);
}

/// <summary>Cross-process pub/sub (Redis in production, in-memory in unit tests). Pub/sub only: no Streams.</summary>
public interface IEventBus
{
    Task PublishAsync<T>(EventTopic<T> topic, T message, CancellationToken cancellationToken = default);

    /// <summary>Returns once the subscription is live, so nothing published afterwards is missed.</summary>
    Task<IEventSubscription<T>> SubscribeAsync<T>(EventTopic<T> topic, int capacity = 1024, CancellationToken cancellationToken = default);
}

internal static class BusJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
