using System.Threading.Channels;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Logging;

namespace Baton.Gateway.Logs;

public sealed record LogEntry(long Id, LogMessage Message);

/// <summary>
/// Live log records from every service (carried over the event bus), kept in a bounded recent
/// tail so a reconnecting client resumes by id. Ids are microsecond timestamps made strictly
/// increasing, so they stay monotonic across gateway restarts.
/// </summary>
public sealed class LogHub(IEventBus bus, TimeProvider time, ILogger<LogHub> logger) : BackgroundService
{
    public const int TailCapacity = 10_000;
    public const int SubscriberCapacity = 1024;

    private readonly Lock _lock = new();
    private readonly Queue<LogEntry> _tail = new(TailCapacity);
    private readonly HashSet<LogSubscriber> _subscribers = [];
    private long _lastId;

    public int SubscriberCount
    {
        get
        {
            lock (_lock)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Set once the hub listens on the bus: records published after this are not missed.</summary>
    public TaskCompletionSource Listening { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Append(LogMessage message)
    {
        lock (_lock)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
            _lastId = Math.Max(_lastId + 1, now);
            var entry = new LogEntry(_lastId, message);
            if (_tail.Count == TailCapacity)
            {
                _tail.Dequeue();
            }
            _tail.Enqueue(entry);
            foreach (var subscriber in _subscribers)
            {
                subscriber.Offer(entry);
            }
        }
    }

    /// <summary>
    /// The retained records after <paramref name="afterId"/> (or since <paramref name="since"/> when
    /// no id is given), and a live subscription that starts exactly after them.
    /// </summary>
    public (IReadOnlyList<LogEntry> Replay, LogSubscriber Live) Subscribe(long? afterId, DateTimeOffset since)
    {
        var subscriber = new LogSubscriber(this);
        lock (_lock)
        {
            var replay = afterId is { } after
                ? _tail.Where(e => e.Id > after).ToList()
                : _tail.Where(e => e.Message.Timestamp >= since).ToList();
            _subscribers.Add(subscriber);
            return (replay, subscriber);
        }
    }

    internal void Remove(LogSubscriber subscriber)
    {
        lock (_lock)
        {
            _subscribers.Remove(subscriber);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var subscription = await bus.SubscribeAsync(LogTopics.Logs, 8192, stoppingToken);
                Listening.TrySetResult();
                await foreach (var delivery in subscription.ReadAllAsync(stoppingToken))
                {
                    if (delivery.IsGap)
                    {
                        Append(new LogMessage(time.GetUtcNow(), "gateway", "Warning", typeof(LogHub).FullName!,
                            "the event bus reconnected; log records published meanwhile may be missing", null, []));
                    }
                    else if (delivery.Message is { } message)
                    {
                        Append(message);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Log subscription failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
            }
        }
    }
}

/// <summary>A live reader with a bounded buffer; one that falls behind is cut off, never slowing the hub.</summary>
public sealed class LogSubscriber(LogHub hub) : IDisposable
{
    private readonly Channel<LogEntry> _channel = Channel.CreateBounded<LogEntry>(
        new BoundedChannelOptions(LogHub.SubscriberCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public ChannelReader<LogEntry> Reader => _channel.Reader;

    internal void Offer(LogEntry entry)
    {
        if (!_channel.Writer.TryWrite(entry))
        {
            _channel.Writer.TryComplete(new SlowConsumerException());
        }
    }

    public void Dispose()
    {
        _channel.Writer.TryComplete();
        hub.Remove(this);
    }
}

public sealed class SlowConsumerException()
    : Exception($"slow consumer: fell more than {LogHub.SubscriberCapacity} records behind; reconnect with the last id to resume");
