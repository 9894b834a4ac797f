using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Baton.ServiceDefaults.Events;

/// <summary>
/// Pub/sub over Redis (or Garnet). One Redis subscription per topic per process, fanned out locally.
/// StackExchange.Redis resubscribes after a reconnect; subscribers are then told messages may be lost.
/// </summary>
public sealed class RedisEventBus : IEventBus, IDisposable
{
    public const string ChannelPrefix = "baton:";

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<RedisEventBus> _logger;
    private readonly TopicFanOut _fanOut = new();
    private readonly SemaphoreSlim _subscribeLock = new(1, 1);
    private readonly HashSet<string> _redisSubscribed = [];
    private readonly Lock _connectionLock = new();
    /// <summary>Connected at least once; a restore before that is the first connection, not a reconnect.</summary>
    private bool _everConnected;
    /// <summary>A connection that was up has failed and not been restored yet.</summary>
    private bool _lost;

    public RedisEventBus(IConnectionMultiplexer redis, ILogger<RedisEventBus> logger)
    {
        _redis = redis;
        _logger = logger;
        _everConnected = redis.IsConnected;
        _redis.ConnectionFailed += OnConnectionFailed;
        _redis.ConnectionRestored += OnConnectionRestored;
    }

    public async Task PublishAsync<T>(EventTopic<T> topic, T message, CancellationToken cancellationToken = default)
    {
        var json = JsonSerializer.Serialize(message, BusJson.Options);
        await _redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChannelPrefix + topic.Name), json).WaitAsync(cancellationToken);
    }

    public async Task<IEventSubscription<T>> SubscribeAsync<T>(EventTopic<T> topic, int capacity = 1024, CancellationToken cancellationToken = default)
    {
        var subscriber = _fanOut.Add(topic.Name, capacity, Unsubscribe);
        await _subscribeLock.WaitAsync(cancellationToken);
        try
        {
            if (_redisSubscribed.Add(topic.Name))
            {
                var channel = RedisChannel.Literal(ChannelPrefix + topic.Name);
                // A message queue delivers in publish order; plain handlers may run concurrently and reorder.
                var queue = await _redis.GetSubscriber().SubscribeAsync(channel);
                queue.OnMessage(message => _fanOut.Deliver(topic.Name, message.Message.ToString()));
            }
        }
        catch
        {
            _redisSubscribed.Remove(topic.Name);
            subscriber.Close();
            throw;
        }
        finally
        {
            _subscribeLock.Release();
        }
        return new Subscription<T>(subscriber);
    }

    private void Unsubscribe(LocalSubscriber subscriber)
    {
        if (!_fanOut.Remove(subscriber))
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            await _subscribeLock.WaitAsync();
            try
            {
                if (!_fanOut.HasSubscribers(subscriber.Topic) && _redisSubscribed.Remove(subscriber.Topic))
                {
                    await _redis.GetSubscriber().UnsubscribeAsync(RedisChannel.Literal(ChannelPrefix + subscriber.Topic));
                }
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
            {
                _logger.LogDebug(ex, "Unsubscribe from {Topic} failed; the connection is gone", subscriber.Topic);
            }
            finally
            {
                _subscribeLock.Release();
            }
        });
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        lock (_connectionLock)
        {
            if (!_everConnected || _lost)
            {
                // Still connecting for the first time, or a retry of a connection already reported lost.
                return;
            }
            _lost = true;
        }
        _logger.LogWarning("Redis {ConnectionType} connection lost ({FailureType}); reconnecting in the background", e.ConnectionType, e.FailureType);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        bool reconnect;
        lock (_connectionLock)
        {
            reconnect = _lost;
            _lost = false;
            _everConnected = true;
        }
        if (reconnect)
        {
            _logger.LogWarning("Redis {ConnectionType} connection restored; telling subscribers that messages may have been lost", e.ConnectionType);
        }
        else
        {
            _logger.LogDebug("Redis {ConnectionType} connection established", e.ConnectionType);
        }
        // Under RESP3 pub/sub shares the interactive connection, so any restored connection may have
        // missed messages; before the first connection, subscribers may have missed some too.
        _fanOut.SignalGapToAll();
    }

    public void Dispose()
    {
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
    }
}
