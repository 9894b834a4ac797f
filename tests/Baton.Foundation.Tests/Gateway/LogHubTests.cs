using Baton.Gateway.Logs;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Foundation.Tests.Gateway;

public sealed class LogHubTests
{
    private static LogHub Hub() => new(new InMemoryEventBus(), TimeProvider.System, NullLogger<LogHub>.Instance);

    private static LogMessage Message(string text) => new(DateTimeOffset.UtcNow, "test", "Information", "cat", text, null, []);

    [Fact]
    public void Ids_AreStrictlyIncreasing_EvenWithinOneMicrosecond()
    {
        var hub = Hub();
        for (var i = 0; i < 1000; i++)
        {
            hub.Append(Message(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        var (replay, live) = hub.Subscribe(0, DateTimeOffset.MinValue);
        live.Dispose();
        Assert.Equal(1000, replay.Count);
        Assert.True(replay.Zip(replay.Skip(1)).All(p => p.First.Id < p.Second.Id));
    }

    [Fact]
    public async Task Resume_AfterAnId_ReplaysOnlyLaterRecords_ThenLive_WithoutDuplicates()
    {
        var hub = Hub();
        for (var i = 0; i < 10; i++)
        {
            hub.Append(Message($"old {i}"));
        }
        var (all, first) = hub.Subscribe(0, DateTimeOffset.MinValue);
        first.Dispose();
        var (replay, live) = hub.Subscribe(all[5].Id, DateTimeOffset.MinValue);
        hub.Append(Message("new"));
        Assert.Equal(all.Skip(6).Select(e => e.Id), replay.Select(e => e.Id));
        Assert.True(await live.Reader.WaitToReadAsync());
        Assert.True(live.Reader.TryRead(out var next));
        Assert.Equal("new", next.Message.Message);
        Assert.False(live.Reader.TryRead(out _));
        live.Dispose();
        Assert.Equal(0, hub.SubscriberCount);
    }

    [Fact]
    public async Task SlowSubscriber_IsCutOff_AndOthersKeepEverything()
    {
        var hub = Hub();
        var (_, slow) = hub.Subscribe(null, DateTimeOffset.MaxValue);
        var (_, reader) = hub.Subscribe(null, DateTimeOffset.MaxValue);
        var received = 0;
        await using var reading = BackgroundLoop.Start(async ct =>
        {
            await foreach (var _ in reader.Reader.ReadAllAsync(ct))
            {
                if (Interlocked.Increment(ref received) == LogHub.SubscriberCapacity * 2)
                {
                    return;
                }
            }
        });
        for (var i = 0; i < LogHub.SubscriberCapacity * 2; i++)
        {
            hub.Append(Message("x"));
            // The fast reader keeps up; the test only paces the producer to its reader, never to the slow one.
            var sent = i;
            await reading.WatchAsync(Eventually.WaitAsync(() => Volatile.Read(ref received) >= sent - LogHub.SubscriberCapacity / 2,
                TimeSpan.FromSeconds(10), "the fast reader keeps up"));
        }
        await reading.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(LogHub.SubscriberCapacity * 2, Volatile.Read(ref received));
        await Assert.ThrowsAsync<SlowConsumerException>(async () =>
        {
            await foreach (var _ in slow.Reader.ReadAllAsync())
            {
            }
        });
    }
}
