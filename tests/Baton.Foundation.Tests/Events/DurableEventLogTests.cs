using Baton.ServiceDefaults.Events;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Foundation.Tests.Events;

public sealed class DurableEventLogTests : IDisposable
{
    private readonly string _dir = TestEnvironment.NewDirectory("baton-log");

    private DurableEventLog Open() => new(Path.Combine(_dir, "events.db"), NullLogger.Instance);

    [Fact]
    public async Task Append_AssignsMonotonicIds_AndPerStreamSequences()
    {
        await using var log = Open();
        var a1 = await log.AppendAsync("a", "t", "{}");
        var b1 = await log.AppendAsync("b", "t", "{}");
        var a2 = await log.AppendAsync("a", "t", "{\"x\":1}");
        Assert.True(a1.Id < b1.Id && b1.Id < a2.Id);
        Assert.Equal([1L, 2L], new[] { a1.Sequence, a2.Sequence });
        Assert.Equal(1, b1.Sequence);
        var read = await log.ReadAsync("a", 0, 100);
        Assert.Equal([a1.Id, a2.Id], read.Select(e => e.Id));
        Assert.Equal("{\"x\":1}", read[1].PayloadJson);
    }

    [Fact]
    public async Task Sequences_ContinueAfterReopen()
    {
        await using (var log = Open())
        {
            await log.AppendAsync("s", "t", "{}");
            await log.AppendAsync("s", "t", "{}");
        }
        await using var reopened = Open();
        var third = await reopened.AppendAsync("s", "t", "{}");
        Assert.Equal(3, third.Sequence);
    }

    [Fact]
    public async Task Stream_ReplaysThenGoesLive_WithNoGapOrDuplicate_UnderConcurrentWrites()
    {
        await using var log = Open();
        const int Total = 6000;
        for (var i = 0; i < 1000; i++)
        {
            await log.AppendAsync("run", "e", $"{{\"n\":{i}}}");
        }
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < (Total - 1000) / 4; i++)
            {
                await log.AppendAsync("run", "e", "{}");
                await log.AppendAsync("other", "e", "{}");
            }
        })).ToArray();

        var seen = new List<StoredEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var stored in log.StreamAsync("run", 500, timeout.Token))
        {
            seen.Add(stored);
            if (stored.Sequence == Total)
            {
                break;
            }
        }
        await Task.WhenAll(writers);
        Assert.Equal(Enumerable.Range(501, Total - 500).Select(i => (long)i), seen.Select(e => e.Sequence));
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Id < p.Second.Id));
        Assert.All(seen, e => Assert.Equal("run", e.Stream));
    }

    [Fact]
    public async Task Stream_ThatFallsBehindItsLiveBuffer_CatchesUpFromTheDatabase()
    {
        await using var log = Open();
        var first = await log.AppendAsync("s", "e", "{}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var enumerator = log.StreamAsync("s", 0, timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await enumerator.MoveNextAsync());
        Assert.Equal(first.Id, enumerator.Current.Id);

        // The reader is parked while far more than its live buffer is written.
        for (var i = 0; i < 10_000; i++)
        {
            _ = log.AppendAsync("s", "e", "{}");
        }
        await log.AppendAsync("s", "e", "{\"last\":true}");

        var sequences = new List<long>();
        while (await enumerator.MoveNextAsync())
        {
            sequences.Add(enumerator.Current.Sequence);
            if (enumerator.Current.PayloadJson.Contains("last", StringComparison.Ordinal))
            {
                break;
            }
        }
        Assert.Equal(Enumerable.Range(2, 10_001).Select(i => (long)i), sequences);
    }

    [Fact]
    public async Task DeleteStream_RemovesOnlyThatStream_AndRestartsItsSequence()
    {
        await using var log = Open();
        await log.AppendAsync("gone", "e", "{}");
        await log.AppendAsync("kept", "e", "{}");
        Assert.Equal(1, await log.DeleteStreamAsync("gone"));
        Assert.Empty(await log.ReadAsync("gone", 0, 10));
        Assert.Single(await log.ReadAsync("kept", 0, 10));
        Assert.Equal(1, (await log.AppendAsync("gone", "e", "{}")).Sequence);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
