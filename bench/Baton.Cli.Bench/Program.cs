using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Reflection;
using System.Text.Json.Nodes;
using Baton.Pty;
using Baton.Testing;

// Keystroke → echo over the gateway's terminal WebSocket, two ways, in alternating rounds:
//   direct: a WebSocket client on GET /api/terminal?run_id= sends one byte and waits for its echo;
//   attach: `baton attach` runs in a local PTY; one byte is written to that PTY and its echo awaited
//           (local PTY → baton in raw mode → the same WebSocket route → the run's PTY → back).
// The run's "CLI" is `cat` in a cooked PTY, whose line discipline echoes every key at once.
var samples = int.Parse(Environment.GetEnvironmentVariable("BENCH_SAMPLES") ?? "200", CultureInfo.InvariantCulture);
var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "5", CultureInfo.InvariantCulture);
var cliPath = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BatonCliPath").Value!;

await using var system = await BatonSystem.StartAsync();
using var http = system.CreateClient();
var repo = GitProcess.CreateRepo(Path.Combine(system.DataDir, "bench-repo"));
var project = await Post("/api/projects", new JsonObject { ["name"] = "bench" });
await Post($"/api/projects/{project["id"]}/repos", new JsonObject { ["name"] = "bench", ["repo_path"] = repo });
var agent = await Post("/api/agents", new JsonObject
{
    ["project_id"] = (string)project["id"]!,
    ["name"] = "echo",
    ["cli_name"] = "custom",
    ["provider_config"] = new JsonObject { ["command"] = "exec cat" },
});
var run = await Post("/api/runs", new JsonObject { ["agent_id"] = (string)agent["id"]!, ["task"] = "echo" });
var runId = (string)run["id"]!;
await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"] == "running", TimeSpan.FromSeconds(60), "run running");

var direct = new List<double>();
var attach = new List<double>();
for (var round = 0; round < rounds; round++)
{
    direct.AddRange(await MeasureDirectAsync());
    attach.AddRange(await MeasureAttachAsync());
    Console.WriteLine($"round {round + 1}: direct p50 {Percentile(direct, 50):0.00} ms, attach p50 {Percentile(attach, 50):0.00} ms");
}
Console.WriteLine();
Console.WriteLine($"| path | p50 | p90 | p99 | samples |");
Console.WriteLine($"| --- | ---: | ---: | ---: | ---: |");
Console.WriteLine($"| WebSocket route directly | {Percentile(direct, 50):0.00} ms | {Percentile(direct, 90):0.00} ms | {Percentile(direct, 99):0.00} ms | {direct.Count} |");
Console.WriteLine($"| `baton attach` in a PTY | {Percentile(attach, 50):0.00} ms | {Percentile(attach, 90):0.00} ms | {Percentile(attach, 99):0.00} ms | {attach.Count} |");
Console.WriteLine($"added by `baton attach` at p50: {Percentile(attach, 50) - Percentile(direct, 50):0.00} ms (target < 5 ms)");
return 0;

async Task<JsonNode> Post(string path, JsonObject body)
{
    using var response = await http.PostAsJsonAsync(path, body);
    var text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {text}");
    }
    return JsonNode.Parse(text)!;
}

async Task<List<double>> MeasureDirectAsync()
{
    using var socket = new ClientWebSocket();
    socket.Options.SetRequestHeader("Authorization", "Bearer " + system.Token);
    await socket.ConnectAsync(new Uri($"ws://{system.GatewayUrl.Authority}/api/terminal?run_id={runId}"), CancellationToken.None);
    var buffer = new byte[64 * 1024];
    // The recent output replayed on connect holds earlier rounds' keys: skip past a fresh marker first.
    var marker = "\nsync-" + Guid.NewGuid().ToString("N")[..8] + "\n";
    await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(marker), WebSocketMessageType.Binary, true, CancellationToken.None);
    var received = new System.Text.StringBuilder();
    while (!received.ToString().Contains(marker.Trim(), StringComparison.Ordinal))
    {
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        received.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, result.Count));
    }
    var results = new List<double>();
    for (var i = 0; i < samples + 10; i++)
    {
        var key = (byte)('a' + i % 26);
        var watch = Stopwatch.StartNew();
        await socket.SendAsync(new[] { key }, WebSocketMessageType.Binary, true, CancellationToken.None);
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (buffer.AsSpan(0, result.Count).Contains(key))
            {
                break;
            }
        }
        if (i >= 10)
        {
            results.Add(watch.Elapsed.TotalMilliseconds);
        }
    }
    // A newline so the next round's keys start a fresh line in cat's input.
    await socket.SendAsync("\n"u8.ToArray(), WebSocketMessageType.Binary, true, CancellationToken.None);
    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    return results;
}

async Task<List<double>> MeasureAttachAsync()
{
    var output = new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true };
    var chunks = System.Threading.Channels.Channel.CreateUnbounded<byte[]>(output);
    await using var pty = PtyProcess.Spawn(new PtySpawnOptions("dotnet",
        [cliPath, "attach", runId, "--url", system.GatewayUrl.ToString(), "--grpc-url", system.GrpcUrl.ToString(), "--token", system.Token],
        Environment.CurrentDirectory, new Dictionary<string, string>()), data => chunks.Writer.TryWrite(data.ToArray()));
    var seen = new List<byte>();
    async Task WaitForAsync(Func<List<byte>, bool> done)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!done(seen))
        {
            seen.AddRange(await chunks.Reader.ReadAsync(timeout.Token));
        }
    }
    await WaitForAsync(s => System.Text.Encoding.UTF8.GetString(s.ToArray()).Contains("Ctrl-] detaches", StringComparison.Ordinal));
    var marker = "sync-" + Guid.NewGuid().ToString("N")[..8];
    await pty.WriteAsync(System.Text.Encoding.ASCII.GetBytes("\n" + marker + "\n"));
    await WaitForAsync(s => System.Text.Encoding.UTF8.GetString(s.ToArray()).Contains(marker, StringComparison.Ordinal));
    var results = new List<double>();
    for (var i = 0; i < samples + 10; i++)
    {
        var key = (byte)('A' + i % 26);
        seen.Clear();
        while (chunks.Reader.TryRead(out _))
        {
        }
        var watch = Stopwatch.StartNew();
        await pty.WriteAsync(new[] { key });
        await WaitForAsync(s => s.Contains(key));
        if (i >= 10)
        {
            results.Add(watch.Elapsed.TotalMilliseconds);
        }
    }
    await pty.WriteAsync("\n"u8.ToArray());
    await pty.WriteAsync(new byte[] { 0x1d });
    await pty.Exited.WaitAsync(TimeSpan.FromSeconds(30));
    return results;
}

static double Percentile(List<double> values, int percentile)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];
}
