using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Contracts.Gateway.V1;
using Baton.Testing;
using Google.Protobuf.WellKnownTypes;

// Slow-consumer benchmark (issue 13): N SSE clients that never read stay connected to a run's event
// stream while ~100 MB of events are produced; one more client reads everything. Reports how much the
// gateway's and the runs service's resident memory grew (sampled from /api/status) and whether the
// reader received every event in order.
var slowClients = int.Parse(Environment.GetEnvironmentVariable("BENCH_SLOW_CLIENTS") ?? "4", CultureInfo.InvariantCulture);
var totalMegabytes = int.Parse(Environment.GetEnvironmentVariable("BENCH_MEGABYTES") ?? "100", CultureInfo.InvariantCulture);
const int EventBytes = 48 * 1024;
var events = totalMegabytes * 1024 * 1024 / EventBytes;

await using var system = await BatonSystem.StartAsync();
using var http = system.CreateClient();
var status = new SystemStatus.SystemStatusClient(system.CreateGrpcChannel());

async Task<(double Gateway, double Runs)> RssAsync()
{
    // A service that misses the status fan-out's deadline on a busy machine has no status: ask again.
    var answer = await Eventually.WaitAsync(() => status.GetStatusAsync(new Empty()).ResponseAsync,
        a => a.Gateway is not null && a.Services.FirstOrDefault(s => s.Name == "runs")?.Status is not null, TimeSpan.FromSeconds(60), "gateway and runs status");
    var runs = answer.Services.First(s => s.Name == "runs").Status.RssBytes;
    return (answer.Gateway.RssBytes / 1048576.0, runs / 1048576.0);
}

var repo = GitProcess.CreateRepo(Path.Combine(system.DataDir, "bench-repo"));
var project = JsonNode.Parse(await (await http.PostAsJsonAsync("/api/projects", new { name = "bench" })).Content.ReadAsStringAsync())!;
var projectId = (string)project["id"]!;
(await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repo })).EnsureSuccessStatusCode();
var secretFile = Path.Combine(system.DataDir, "hook-secret");
var agent = new JsonObject
{
    ["project_id"] = projectId,
    ["name"] = "bench",
    ["cli_name"] = "custom",
    ["provider_config"] = new JsonObject { ["command"] = $"printf %s \"$BATON_HOOK_SECRET\" > '{secretFile}'; sleep 3600" },
};
var agentId = (string)JsonNode.Parse(await (await http.PostAsync("/api/agents", new StringContent(agent.ToJsonString(), Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync())!["id"]!;
var runId = (string)JsonNode.Parse(await (await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "bench" })).Content.ReadAsStringAsync())!["id"]!;
var secret = await Eventually.WaitAsync(() => Task.FromResult(File.Exists(secretFile) ? File.ReadAllText(secretFile) : ""), s => s.Length > 0, TimeSpan.FromSeconds(60), "hook secret");

// Settle, then take the baseline.
for (var i = 0; i < 3; i++)
{
    GC.Collect();
    await Task.Delay(500);
}
var before = await RssAsync();

// Clients that never read, with small socket buffers so the kernel cannot soak the stream up for them.
var stalled = new List<(HttpClient Client, HttpResponseMessage Response)>();
for (var i = 0; i < slowClients; i++)
{
    var client = new HttpClient(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = system.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
    client.DefaultRequestHeaders.Authorization = new("Bearer", system.Token);
    stalled.Add((client, await client.GetAsync($"/api/runs/{runId}/events/stream", HttpCompletionOption.ResponseHeadersRead)));
}

// One client that reads everything and checks order; like any client, it resumes from its last id
// when the gateway cuts it off for falling behind (which a busy bench process can).
var received = 0;
var reconnects = 0;
long lastId = 0;
var ordered = true;
var reading = Task.Run(async () =>
{
    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
    while (received < events)
    {
        var resume = lastId > 0 ? $"?last_event_id={lastId}" : "";
        using var response = await http.GetAsync($"/api/runs/{runId}/events/stream{resume}", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var reader = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        while (received < events && await reader.ReadFrameAsync(timeout.Token) is { } frame)
        {
            if (frame.Event == "error")
            {
                break;
            }
            if (frame.Id is null || !frame.Data.Contains("agent.tool_call", StringComparison.Ordinal))
            {
                continue;
            }
            var id = long.Parse(frame.Id, CultureInfo.InvariantCulture);
            ordered &= id > lastId;
            lastId = id;
            received++;
        }
        if (received < events)
        {
            reconnects++;
        }
    }
});

var peak = before;
using var sampling = new CancellationTokenSource();
var sampler = Task.Run(async () =>
{
    while (!sampling.IsCancellationRequested)
    {
        var now = await RssAsync();
        peak = (Math.Max(peak.Gateway, now.Gateway), Math.Max(peak.Runs, now.Runs));
        await Task.Delay(250);
    }
});

var payload = new string('x', EventBytes - 200);
using var hooks = system.CreateClient(authenticated: false);
hooks.DefaultRequestHeaders.Add("X-Run-Hook-Secret", secret);
var watch = Stopwatch.StartNew();
await Parallel.ForAsync(0, events, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
{
    var body = $"{{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{{\"i\":{i},\"pad\":\"{payload}\"}}}}";
    using var response = await hooks.PostAsync($"/api/runs/{runId}/hook", new StringContent(body, Encoding.UTF8, "application/json"), ct);
    response.EnsureSuccessStatusCode();
});
var produced = watch.Elapsed;
await reading;
var readAll = watch.Elapsed;
await sampling.CancelAsync();
await sampler;
var after = await RssAsync();

var cutOff = 0;
foreach (var (client, response) in stalled)
{
    // A cut-off client finds an error frame or a closed connection once it finally reads.
    try
    {
        using var stream = new SseReader(await response.Content.ReadAsStreamAsync());
        using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await stream.ReadFrameAsync(quick.Token) is { } frame)
        {
            if (frame.Event == "error")
            {
                cutOff++;
                break;
            }
        }
    }
    catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
    {
        cutOff++;
    }
    response.Dispose();
    client.Dispose();
}

var growth = peak.Gateway - before.Gateway + (peak.Runs - before.Runs);
Console.WriteLine($"""

## Slow consumers ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores)

{slowClients} SSE clients that never read + 1 reader on one run's event stream; {events:N0} hook events of 48 KB ({events * (long)EventBytes / 1048576.0:N0} MB) posted through the gateway.

| measurement | result | target |
| --- | --- | --- |
| gateway RSS: before → peak → after | {before.Gateway:F0} → {peak.Gateway:F0} → {after.Gateway:F0} MB | |
| runs service RSS: before → peak → after | {before.Runs:F0} → {peak.Runs:F0} → {after.Runs:F0} MB | |
| peak growth, gateway + runs | {growth:F1} MB | < 32 MB {(growth < 32 ? "✔" : "✘")} |
| reader: events received in order | {received:N0} / {events:N0}, {(ordered ? "in order" : "OUT OF ORDER")}, {reconnects} resumes | all ✔ |
| non-readers cut off | {cutOff} / {slowClients} | all |
| produce time / reader done | {produced.TotalSeconds:F1} s / {readAll.TotalSeconds:F1} s | |
""");
return growth < 32 && received == events && ordered ? 0 : 1;
