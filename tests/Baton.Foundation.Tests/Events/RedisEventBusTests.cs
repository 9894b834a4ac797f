using Baton.ServiceDefaults.Events;
using Baton.Testing;
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
    public async Task RedisRestart_SubscribersResumeAfterAGap_AndDurableEventsAreNotLost()
    {
        await using var redis = await TestRedis.StartAsync();
        var (publisherConnection, publisher) = await ConnectAsync(redis);
        var (subscriberConnection, subscriber) = await ConnectAsync(redis);
        var dir = Directory.CreateTempSubdirectory("baton-bus-").FullName;
        await using var log = new DurableEventLog(Path.Combine(dir, "events.db"), NullLogger.Instance,
            onAppended: e => _ = publisher.PublishAsync(Topic, new InMemoryEventBusTests.Ping((int)e.Sequence)).ContinueWith(_ => { }, TaskScheduler.Default));
        await using var subscription = await subscriber.SubscribeAsync(Topic);

        await log.AppendAsync("s", "e", "{}");
        Assert.Equal([1], await InMemoryEventBusTests.Take(subscription, 1));

        await redis.StopAsync();
        // Accepted while Redis is down: durable, even though live delivery is impossible.
        await log.AppendAsync("s", "e", "{}");
        await log.AppendAsync("s", "e", "{}");
        await redis.RestartAsync();

        var sawGap = false;
        var resumed = 0;
        var live = new List<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var publishing = Task.Run(async () =>
        {
            // Keep publishing until the resubscribed subscriber hears one.
            while (!timeout.IsCancellationRequested && Volatile.Read(ref resumed) == 0)
            {
                await log.AppendAsync("s", "e", "{}");
                await Task.Delay(100, timeout.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        await foreach (var delivery in subscription.ReadAllAsync(timeout.Token))
        {
            if (delivery.IsGap)
            {
                sawGap = true;
                continue;
            }
            live.Add(delivery.Message!.N);
            if (sawGap)
            {
                Volatile.Write(ref resumed, 1);
                break;
            }
        }
        await publishing;
        Assert.True(sawGap, "the subscriber was told messages may have been lost");
        // Resynchronising from the durable log recovers everything, in order, exactly once.
        var all = await log.ReadAsync("s", 0, 1000);
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
        Assert.True(all.Count >= 4);
        publisherConnection.Dispose();
        subscriberConnection.Dispose();
    }
}
