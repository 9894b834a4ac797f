using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.Runs.Tests.Infrastructure;
using Baton.Testing;
using Grpc.Core;

// Runs-service benchmarks (in-process service on real Kestrel ports, fake git over gRPC, fake claude CLI in a PTY).
var results = new StringBuilder();
void Report(string line)
{
    Console.WriteLine(line);
    results.AppendLine(line);
}

Report($"# Baton runs benchmarks\n\nMachine: {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. In-process runs service, fake git gRPC server (real `git worktree add`), fake claude CLI in a real PTY.\n");

await using (var host = await RunsHost.StartAsync(new RunsHostOptions { MaxConcurrentRuns = 32 }))
{
    // 1. POST /api/runs → run.started on a 1,000-file repo.
    var project = await host.PostJsonAsync("/api/projects", new { name = "bench" }, System.Net.HttpStatusCode.Created);
    var repo = GitProcess.CreateRepo(Path.Combine(host.DataDir, "bigrepo"));
    for (var i = 0; i < 1000; i++)
    {
        File.WriteAllText(Path.Combine(repo, $"file{i:D4}.txt"), $"content {i}\n");
    }
    GitCli.Run(repo, "add", "-A");
    GitCli.Run(repo, "commit", "-q", "-m", "1000 files");
    host.Git.Service.AddRepo((string)project["id"]!, "app", repo);
    var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = host.DataDir } } });
    var agentId = (string)agent["id"]!;
    var latencies = new List<double>();
    for (var i = 0; i < 15; i++)
    {
        var watch = Stopwatch.StartNew();
        var runId = (string)(await host.CreateRunAsync(agentId, "bench"))["id"]!;
        using var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = runId });
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (e.EventType == "run.started")
            {
                latencies.Add(watch.Elapsed.TotalMilliseconds);
                break;
            }
        }
        await host.WaitForStatusAsync(runId, "completed");
    }
    latencies.Sort();
    Report($"## POST /api/runs → run.started (1,000-file repo, {latencies.Count} runs)\n\np50 {latencies[latencies.Count / 2]:F0} ms, p90 {latencies[(int)(latencies.Count * 0.9)]:F0} ms, max {latencies[^1]:F0} ms\n");

    // 2. 20 concurrent runs, each writing ~1 MB of stream-json (every token an event), verified by sequence.
    const int Runs = 20;
    const int Tokens = 6500; // ~160 bytes per stream-json line → ~1 MB per run
    var watchAll = Stopwatch.StartNew();
    var ids = new List<string>();
    for (var i = 0; i < Runs; i++)
    {
        ids.Add((string)(await host.CreateRunAsync(agentId, $"load TOKENS:{Tokens}"))["id"]!);
    }
    var streamed = await Task.WhenAll(ids.Select(async id =>
    {
        var count = 0L;
        var lastSequence = 0L;
        var ok = true;
        using var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = id });
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            ok &= e.Sequence == lastSequence + 1;
            lastSequence = e.Sequence;
            count += e.EventType == "agent.token" ? 1 : 0;
        }
        return (count, ok);
    }));
    var elapsed = watchAll.Elapsed;
    var logBytes = ids.Sum(id => new FileInfo(Path.Combine(host.DataDir, "runs", id, "output.log")).Length);
    var allTokens = streamed.All(s => s.count == Tokens);
    Report($"## {Runs} concurrent runs × ~1 MB output\n\n{logBytes / 1024.0 / 1024.0:F1} MB of PTY output, {streamed.Sum(s => s.count)} agent.token events persisted and streamed in {elapsed.TotalSeconds:F1} s; " +
        $"every run's stream gap-free by sequence: {streamed.All(s => s.ok)}; every token received: {allTokens}\n");

    // 3. Replay of 100,000 events.
    var events = (Baton.Runs.Events.RunEventLog)host.Services.GetService(typeof(Baton.Runs.Events.RunEventLog))!;
    var replayRun = (string)(await host.CreateRunAsync(agentId, "replay"))["id"]!;
    await host.WaitForStatusAsync(replayRun, "completed");
    var appends = new List<Task>();
    for (var i = 0; i < 100_000; i++)
    {
        appends.Add(events.AppendAsync(replayRun, "agent.token", new JsonObject { ["text"] = $"t{i} " }));
    }
    await Task.WhenAll(appends);
    var replayWatch = Stopwatch.StartNew();
    var replayed = 0;
    using (var call = host.Client.StreamRunEvents(new StreamRunEventsRequest { RunId = replayRun }))
    {
        await foreach (var _ in call.ResponseStream.ReadAllAsync())
        {
            replayed++;
        }
    }
    Report($"## Replay of 100,000 events (gRPC StreamRunEvents, what the SSE bridge consumes)\n\n{replayed} events in {replayWatch.Elapsed.TotalMilliseconds:F0} ms\n");

    // 4. 200 terminal viewers on one run, each receiving the full output.
    var termProject = await host.CreateProjectWithRepoAsync("term");
    var termAgent = await host.CreateAgentAsync((string)termProject["id"]!, new { cli_name = "custom", provider_config = new { command = "read go; seq 1 20000; echo END-OF-OUTPUT; sleep 30" } });
    var termRun = (string)(await host.CreateRunAsync((string)termAgent["id"]!, "viewers"))["id"]!;
    await host.WaitForStatusAsync(termRun, "running");
    const int Viewers = 200;
    var calls = new List<AsyncDuplexStreamingCall<TerminalInput, TerminalOutput>>();
    for (var i = 0; i < Viewers; i++)
    {
        var call = host.Client.Terminal();
        await call.RequestStream.WriteAsync(new TerminalInput { Open = new TerminalOpen { RunId = termRun } });
        await call.ResponseHeadersAsync;
        calls.Add(call);
    }
    var viewerWatch = Stopwatch.StartNew();
    var receiving = calls.Select(async call =>
    {
        var bytes = 0L;
        var tail = "";
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            var text = call.ResponseStream.Current.Data.ToStringUtf8();
            bytes += call.ResponseStream.Current.Data.Length;
            tail = (tail + text)[^Math.Min(tail.Length + text.Length, 64)..];
            if (tail.Contains("END-OF-OUTPUT", StringComparison.Ordinal))
            {
                return bytes;
            }
        }
        return bytes;
    }).ToList();
    await calls[0].RequestStream.WriteAsync(new TerminalInput { Data = Google.Protobuf.ByteString.CopyFromUtf8("go\n") });
    var received = await Task.WhenAll(receiving);
    Report($"## {Viewers} terminal viewers on one run\n\nevery viewer received the whole output (~{received.Min() / 1024} KB, through END-OF-OUTPUT): {received.All(b => b > 100_000)}, in {viewerWatch.Elapsed.TotalMilliseconds:F0} ms\n");
    await host.PostJsonAsync($"/api/runs/{termRun}/cancel", new { });
    foreach (var call in calls)
    {
        call.Dispose();
    }
}

var path = Path.Combine(AppContext.GetData("BenchDir") as string ?? Directory.GetCurrentDirectory(), "RESULTS.md");
File.WriteAllText(path, results.ToString());
Console.WriteLine($"written {path}");
