using Baton.ServiceDefaults.Events;
using Baton.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Baton.Foundation.Tests.Events;

[Trait("Category", "Redis")]
public sealed class RedisEventBusTests
{
    private static readonly EventTopic<InMemoryEventBusTests.Ping> Topic = new("redis-pings");

    private static async Task<(IConnectionMultiplexer, RedisEventBus)> ConnectAsync(TestRedis redis)
    {
        var options = ConfigurationOptions.Parse(redis.ConnectionString);
        options.AbortOnConnectFail = false;
        options.ReconnectRetryPolicy = new LinearRetry(100);
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        return (connection, new RedisEventBus(connection, NullLogger<RedisEventBus>.Instance));
    }

    [Fact]
    public async Task PublishedMessages_ReachSubscribersInAnotherConnection_InOrder()
    {
        await using var redis = await TestRedis.StartAsync();
        var (publisherConnection, publisher) = await ConnectAsync(redis);
        var (subscriberConnection, subscriber) = await ConnectAsync(redis);
        await using var subscription = await subscriber.SubscribeAsync(Topic);
        for (var i = 0; i < 200; i++)
        {
            await publisher.PublishAsync(Topic, new InMemoryEventBusTests.Ping(i));
        }
        Assert.Equal(Enumerable.Range(0, 200), await InMemoryEventBusTests.Take(subscription, 200));
        publisherConnection.Dispose();
        subscriberConnection.Dispose();
    }

    [Fact]
    public async Task RedisRestart_LiveSubscriberIsToldOfTheGap_AndLivePlusResyncFromTheDurableLogIsEveryEventOnce()
    {
        await using var redis = await TestRedis.StartAsync();
        var (publisherConnection, publisher) = await ConnectAsync(redis);
        var (subscriberConnection, subscriber) = await ConnectAsync(redis);
        var dir = TestEnvironment.NewDirectory("baton-bus");
        try
        {
            await using var log = new DurableEventLog(Path.Combine(dir, "events.db"), NullLogger.Instance,
                onAppended: e => _ = publisher.PublishAsync(Topic, new InMemoryEventBusTests.Ping((int)e.Sequence)).ContinueWith(_ => { }, TaskScheduler.Default));
            await using var subscription = await subscriber.SubscribeAsync(Topic);

            await log.AppendAsync("s", "e", "{}");
            Assert.Equal([1], await InMemoryEventBusTests.Take(subscription, 1));

            await redis.StopAsync();
            // Accepted while Redis is down: durable, even though live delivery cannot be promised.
            await log.AppendAsync("s", "e", "{}");
            await log.AppendAsync("s", "e", "{}");
            await redis.RestartAsync();

            // What the live subscriber receives, in order: messages, and "you may have missed some" notices.
            var deliveries = new List<int?>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var resumed = 0;
            var publishing = Task.Run(async () =>
            {
                // Keep publishing until the resubscribed subscriber hears one after its gap notice.
                while (!timeout.IsCancellationRequested && Volatile.Read(ref resumed) == 0)
                {
                    await log.AppendAsync("s", "e", "{}");
                    await Task.Delay(100, timeout.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            });
            try
            {
                await foreach (var delivery in subscription.ReadAllAsync(timeout.Token))
                {
                    deliveries.Add(delivery.IsGap ? null : delivery.Message!.N);
                    // The outbox may first re-publish the two accepted during the outage (2, 3): wait for a new one.
                    if (!delivery.IsGap && deliveries.Contains(null) && delivery.Message!.N > 3)
                    {
                        Volatile.Write(ref resumed, 1);
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                // Judged below by what did arrive.
            }
            await publishing;

            Assert.True(deliveries.Contains(null), "the subscriber was told messages may have been lost");
            var live = deliveries.OfType<int>().ToList();
            Assert.True(live.Zip(live.Skip(1)).All(p => p.First < p.Second), $"live messages stay in order without duplicates: {string.Join(',', deliveries)}");
            Assert.True(live[^1] > 3, $"a message published after the restart arrived live: {string.Join(',', deliveries)}");

            // On the gap notice a subscriber resynchronises from the durable log: it holds every accepted
            // event once, in order (the two accepted during the outage too), and everything that arrived live.
            var durable = (await log.ReadAsync("s", 0, 1000)).Select(e => (int)e.Sequence).ToList();
            Assert.Equal(Enumerable.Range(1, durable.Count), durable);
            Assert.Superset(live.ToHashSet(), durable.ToHashSet());
        }
        finally
        {
            publisherConnection.Dispose();
            subscriberConnection.Dispose();
            TestEnvironment.DeleteQuietly(dir);
        }
    }

    [Fact]
    public async Task FirstConnection_IsNotReportedAsARestore_ButARealReconnectIs()
    {
        await using var redis = await TestRedis.StartAsync();
        var logger = new RecordingLogger();
        var options = ConfigurationOptions.Parse(redis.ConnectionString);
        options.AbortOnConnectFail = false;
        options.ReconnectRetryPolicy = new LinearRetry(100);
        using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        using var bus = new RedisEventBus(connection, logger);
        await using var subscription = await bus.SubscribeAsync(Topic);
        await bus.PublishAsync(Topic, new InMemoryEventBusTests.Ping(1));
        Assert.Equal([1], await InMemoryEventBusTests.Take(subscription, 1));
        Assert.Empty(logger.Warnings);

        await redis.StopAsync();
        await redis.RestartAsync();
        await Eventually.WaitAsync(() => Task.FromResult(logger.Warnings.Any(w => w.Contains("restored", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(30), "the reconnect is reported");
        Assert.Single(logger.Warnings, w => w.Contains("connection lost", StringComparison.Ordinal));
        Assert.Single(logger.Warnings, w => w.Contains("messages may have been lost", StringComparison.Ordinal));
    }

    private sealed class RecordingLogger : ILogger<RedisEventBus>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _warnings = new();
        public IReadOnlyList<string> Warnings => [.. _warnings];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                _warnings.Enqueue(formatter(state, exception));
            }
        }
    }
}
