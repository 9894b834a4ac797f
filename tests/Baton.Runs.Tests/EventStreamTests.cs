using Baton.Contracts.Runs.V1;
using Baton.Runs.Tests.Infrastructure;
using Grpc.Core;

namespace Baton.Runs.Tests;

public sealed class EventStreamTests
{
    [Fact]
    public async Task StreamRunEvents_ResumedFromTheMiddleDuringWrites_HasNoGapNoDuplicate_AndEndsAfterCompletion()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "stream TOKENS:3000"))["id"]!;

        // Wait until some events exist while the CLI is still writing, and resume after one in the middle.
        long middle = 0;
        await Eventually.WaitAsync(async () =>
        {
            var events = await host.GetEventsAsync(runId);
            if (events.Count < 50)
            {
                return false;
            }
            middle = (long)events[events.Count / 2]!["id"]!;
            return true;
        }, TimeSpan.FromSeconds(30), () => "no events");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<RunEvent>();
        using var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = runId, AfterId = middle }, cancellationToken: timeout.Token);
        await foreach (var runEvent in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            received.Add(runEvent);
        }

        // The stream ended by itself after the terminal status.
        Assert.Equal("run.completed", received[^1].EventType);
        var stored = (await host.GetEventsAsync(runId)).Where(e => (long)e!["id"]! > middle).Select(e => (long)e!["id"]!).ToList();
        Assert.Equal(stored, received.Select(e => e.Id));
        var sequences = received.Select(e => e.Sequence).ToList();
        Assert.Equal(Enumerable.Range((int)sequences[0], sequences.Count).Select(i => (long)i), sequences);
        Assert.True(received.Count(e => e.EventType == "agent.token") > 1000);
        Assert.Equal("t2999 ", received.Last(e => e.EventType == "agent.token").Payload.Fields["text"].StringValue);
    }

    [Fact]
    public async Task StreamRunEvents_OfARunFailedByItsStopFailureHook_EndsOnlyAfterTheCliExited()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "STOPFAIL"))["id"]!;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = new List<string>();
        using var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = runId }, cancellationToken: timeout.Token);
        await foreach (var runEvent in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            received.Add(runEvent.EventType);
        }

        // The hook failed the run while the CLI was still writing; its result line still reached the live stream.
        var failed = received.IndexOf("run.failed");
        Assert.True(failed >= 0 && received.IndexOf("run.result") > failed, string.Join(", ", received));
        Assert.Equal(received, (await host.GetEventsAsync(runId)).Select(e => (string)e!["event_type"]!));
        Assert.Equal("rate_limit", (string?)(await host.GetRunAsync(runId))["failure_reason"]);
    }

    [Fact]
    public async Task StreamRunEvents_OfAFinishedRun_ReplaysThenEnds_AndUnknownRunIsNotFound()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!);
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "quick"))["id"]!;
        await host.WaitForStatusAsync(runId, "completed");
        await host.WaitForEventAsync(runId, "run.completed");
        var all = await host.GetEventsAsync(runId);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = runId }, cancellationToken: timeout.Token);
        var replayed = new List<long>();
        await foreach (var runEvent in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            replayed.Add(runEvent.Id);
        }
        Assert.Equal(all.Select(e => (long)e!["id"]!), replayed);

        using var after = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = runId, AfterId = replayed[^1] }, cancellationToken: timeout.Token);
        Assert.False(await after.ResponseStream.MoveNext(timeout.Token));

        using var unknown = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = Guid.NewGuid().ToString() }, cancellationToken: timeout.Token);
        var ex = await Assert.ThrowsAsync<RpcException>(() => unknown.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task GetStatus_ReportsRunCounters()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!);
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "quick"))["id"]!;
        await host.WaitForStatusAsync(runId, "completed");
        var status = await host.Client.GetStatusAsync(new Baton.Contracts.Common.V1.StatusRequest());
        Assert.Equal("runs", status.Service);
        foreach (var counter in new[] { "runs_running", "runs_queued", "runs_failed", "runs_stopped", "terminal_viewers", "sessions_active" })
        {
            Assert.True(status.Counters.ContainsKey(counter), counter);
        }
        Assert.Equal(1, status.Counters["agent:claude-code"]);
    }
}
