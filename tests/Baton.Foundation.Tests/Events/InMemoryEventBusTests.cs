using Baton.ServiceDefaults.Events;

namespace Baton.Foundation.Tests.Events;

public sealed class InMemoryEventBusTests
{
    private static readonly EventTopic<Ping> Topic = new("pings");

    public sealed record Ping(int N);

    [Fact]
    public async Task Publish_ReachesEverySubscriber_InOrder()
    {
        var bus = new InMemoryEventBus();
        await using var first = await bus.SubscribeAsync(Topic);
        await using var second = await bus.SubscribeAsync(Topic);
        for (var i = 0; i < 100; i++)
        {
            await bus.PublishAsync(Topic, new Ping(i));
        }
        Assert.Equal(Enumerable.Range(0, 100), await Take(first, 100));
        Assert.Equal(Enumerable.Range(0, 100), await Take(second, 100));
    }

    [Fact]
    public async Task SlowSubscriber_IsCutOff_WithoutBlockingPublisherOrOthers()
    {
        var bus = new InMemoryEventBus();
        await using var slow = await bus.SubscribeAsync(Topic, capacity: 10);
        await using var fast = await bus.SubscribeAsync(Topic, capacity: 1000);
        for (var i = 0; i < 50; i++)
        {
            await bus.PublishAsync(Topic, new Ping(i));
        }
        Assert.Equal(Enumerable.Range(0, 50), await Take(fast, 50));
        var error = await Assert.ThrowsAsync<SubscriberTooSlowException>(() => Take(slow, 50));
        Assert.Contains("fell more than 10 messages behind", error.Message);
    }

    [Fact]
    public async Task Reconnect_IsSignalledAsGap_AndSubscriptionContinues()
    {
        var bus = new InMemoryEventBus();
        await using var subscription = await bus.SubscribeAsync(Topic);
        await bus.PublishAsync(Topic, new Ping(1));
        bus.SimulateReconnect();
        await bus.PublishAsync(Topic, new Ping(2));
        var deliveries = new List<BusDelivery<Ping>>();
        await foreach (var delivery in subscription.ReadAllAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token))
        {
            deliveries.Add(delivery);
            if (deliveries.Count == 3)
            {
                break;
            }
        }
        Assert.Equal(1, deliveries[0].Message!.N);
        Assert.True(deliveries[1].IsGap);
        Assert.Equal(2, deliveries[2].Message!.N);
    }

    internal static async Task<List<int>> Take(IEventSubscription<Ping> subscription, int count)
    {
        var seen = new List<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var delivery in subscription.ReadAllAsync(timeout.Token))
        {
            if (delivery.Message is { } ping)
            {
                seen.Add(ping.N);
            }
            if (seen.Count == count)
            {
                break;
            }
        }
        return seen;
    }
}
