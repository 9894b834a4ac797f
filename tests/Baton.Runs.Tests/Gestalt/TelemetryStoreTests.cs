using System.Text.Json.Nodes;
using Baton.Runs.Telemetry;
using Baton.Testing;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>The OTLP receiver's store keeps what it receives within its retention bound: a count per kind and an age.</summary>
public sealed class TelemetryStoreTests
{
    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static TelemetryRecord[] Records(TelemetryKind kind, string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TelemetryRecord(kind, 1_700_000_000_000_000_000 + i, "", $"{prefix}-{i}", "svc", "", new JsonObject { ["n"] = $"{prefix}-{i}" }))];

    [Fact]
    public async Task Store_DropsRecordsOlderThanMaxAge_AndKeepsTheNewestMaxRecordsPerKind()
    {
        var folder = TestEnvironment.NewDirectory("otel-store");
        try
        {
            var time = new ManualTime(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
            var store = new TelemetryStore(Path.Combine(folder, "otel.db"), new TelemetryOptions { MaxRecords = 5, MaxAge = TimeSpan.FromHours(1) }, time);
            await store.AddAsync(Records(TelemetryKind.Trace, "old", 3), CancellationToken.None);
            await store.AddAsync(Records(TelemetryKind.Metric, "old", 2), CancellationToken.None);
            await store.AddAsync(Records(TelemetryKind.Log, "old", 1), CancellationToken.None);
            Assert.Equal(3, await store.CountAsync(TelemetryKind.Trace, CancellationToken.None));

            // Ninety minutes later the next write trims: everything received over an hour ago is gone, of every kind.
            time.Now += TimeSpan.FromMinutes(90);
            await store.AddAsync(Records(TelemetryKind.Trace, "new", 1), CancellationToken.None);
            Assert.Equal((1L, 0L, 0L), (await store.CountAsync(TelemetryKind.Trace, CancellationToken.None),
                await store.CountAsync(TelemetryKind.Metric, CancellationToken.None), await store.CountAsync(TelemetryKind.Log, CancellationToken.None)));

            // A burst past the count bound is trimmed to the newest records of its kind, leaving the other kinds alone.
            await store.AddAsync(Records(TelemetryKind.Metric, "kept", 2), CancellationToken.None);
            await store.AddAsync(Records(TelemetryKind.Trace, "burst", 1200), CancellationToken.None);
            Assert.Equal(5, await store.CountAsync(TelemetryKind.Trace, CancellationToken.None));
            Assert.Equal(2, await store.CountAsync(TelemetryKind.Metric, CancellationToken.None));
            var kept = await store.QueryAsync(new TelemetryQuery(TelemetryKind.Trace, 100, null, null, null, null, null), CancellationToken.None);
            Assert.Equal(Enumerable.Range(1195, 5).Select(i => $"burst-{i}"), kept.Select(r => (string?)JsonNode.Parse(r)!["n"]));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestEnvironment.DeleteQuietly(folder);
        }
    }
}
