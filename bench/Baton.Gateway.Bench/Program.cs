using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Baton.AppHost.Orchestration;

// 1. Cold start: the launcher as a user runs it, from the command to /ready = 200.
var coldStarts = new List<double>();
for (var i = 0; i < 3; i++)
{
    coldStarts.Add(await ColdStartAsync());
}

// 2. Gateway overhead on a transcoded unary route (GET /api/v1/bindings, owned by integrations).
const string Token = "bench-token";
var dataDir = Directory.CreateTempSubdirectory("baton-bench-").FullName;
var options = new LaunchOptions { Port = Ports.Free(), GrpcPort = Ports.Free(), DataDir = dataDir, WorkDir = dataDir, Token = Token, UseColor = false };
// The benchmark measures request handling, not console logging of each request.
options.Environment["Logging__LogLevel__Default"] = "Warning";
await using var system = await Orchestrator.StartAsync(options);
await Task.Delay(TimeSpan.FromSeconds(5));
var idleRss = system.Processes.Where(p => p.Key != "redis").ToDictionary(p => p.Key, p => RssMegabytes(p.Value.Pid));
var (servicePort, serviceGrpcPort) = system.PortsOf("integrations");
var referencePort = Ports.Free();
await using var reference = await ReferenceProxy.StartAsync(referencePort, $"http://127.0.0.1:{serviceGrpcPort}");
// Direct, reference-proxy and gateway runs alternate, so a burst of load from elsewhere on the
// machine hits all three alike; the medians of the rounds are reported.
var rounds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var requested) ? requested : 5;
var directRuns = new List<(double Rps, double P50, double P99)>();
var referenceRuns = new List<(double Rps, double P50, double P99)>();
var gatewayRuns = new List<(double Rps, double P50, double P99)>();
for (var round = 0; round < rounds; round++)
{
    directRuns.Add(await WrkAsync($"http://127.0.0.1:{servicePort}/api/v1/bindings", $"x-baton-internal: {system.InternalSecret}"));
    referenceRuns.Add(await WrkAsync($"http://127.0.0.1:{referencePort}/api/v1/bindings", $"x-baton-internal: {system.InternalSecret}"));
    gatewayRuns.Add(await WrkAsync($"{system.GatewayUrl}/api/v1/bindings", $"Authorization: Bearer {Token}"));
}
var direct = (Rps: Median(directRuns.Select(r => r.Rps)), P50: Median(directRuns.Select(r => r.P50)), P99: Median(directRuns.Select(r => r.P99)));
var gateway = (Rps: Median(gatewayRuns.Select(r => r.Rps)), P50: Median(gatewayRuns.Select(r => r.P50)), P99: Median(gatewayRuns.Select(r => r.P99)));
var ratios = directRuns.Zip(gatewayRuns, (d, g) => 100 * g.Rps / d.Rps).ToList();
var referenceRatios = directRuns.Zip(referenceRuns, (d, r) => 100 * r.Rps / d.Rps).ToList();

// 3. Memory of each process idle after start, and again after the load once the GC has settled.
await Task.Delay(TimeSpan.FromSeconds(5));
var loadedRss = system.Processes.Where(p => p.Key != "redis").ToDictionary(p => p.Key, p => RssMegabytes(p.Value.Pid));

Console.WriteLine();
Console.WriteLine("| measurement | result | target |");
Console.WriteLine("| --- | --- | --- |");
Console.WriteLine($"| cold start, command → /ready 200 (3 runs) | {string.Join(" / ", coldStarts.Select(s => $"{s:0.00} s"))} | < 10 s |");
Console.WriteLine($"| direct to integrations: req/s, p50, p99 (median of {rounds}) | {direct.Rps:0} req/s, {direct.P50:0.000} ms, {direct.P99:0.000} ms | |");
Console.WriteLine($"| through the gateway (auth on): req/s, p50, p99 (median of {rounds}) | {gateway.Rps:0} req/s, {gateway.P50:0.000} ms, {gateway.P99:0.000} ms | |");
Console.WriteLine($"| gateway overhead at p50 | {gateway.P50 - direct.P50:0.000} ms | ≤ 0.5 ms |");
Console.WriteLine($"| bare YARP, same backend hop, no auth: throughput / direct (median; each round) | {Median(referenceRatios):0} % ({string.Join(" / ", referenceRatios.Select(r => $"{r:0}"))}) | (reference) |");
Console.WriteLine($"| gateway throughput / direct (median; each round) | {Median(ratios):0} % ({string.Join(" / ", ratios.Select(r => $"{r:0}"))}) | ≥ 50 % |");
foreach (var (name, mb) in idleRss.OrderBy(r => r.Key, StringComparer.Ordinal))
{
    Console.WriteLine($"| RSS of {name}: idle after start / idle after the load | {mb:0} MB / {loadedRss[name]:0} MB | idle < 120 MB |");
}

static async Task<double> ColdStartAsync()
{
    var port = Ports.Free();
    var dataDir = Directory.CreateTempSubdirectory("baton-cold-").FullName;
    var launcher = typeof(Orchestrator).Assembly.Location;
    var start = new ProcessStartInfo("dotnet", [launcher, "--port", $"{port}", "--grpc-port", $"{Ports.Free()}", "--data-dir", dataDir])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
    var clock = Stopwatch.StartNew();
    using var process = Process.Start(start)!;
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    while (true)
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{port}/ready");
            if (response.IsSuccessStatusCode)
            {
                break;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
        }
        await Task.Delay(20);
    }
    var elapsed = clock.Elapsed.TotalSeconds;
    Kill(process.Id, 15);
    await process.WaitForExitAsync();
    return elapsed;
}

static async Task<(double Rps, double P50, double P99)> WrkAsync(string url, string header)
{
    // Warm-up, then the measured run.
    await RunWrkAsync(url, header, "3s");
    var output = await RunWrkAsync(url, header, "10s");
    double Ms(string label)
    {
        var match = Regex.Match(output, $@"{label}%\s+([\d.]+)(us|ms|s)");
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }
    var rps = double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
    return (rps, Ms("50"), Ms("99"));
}

static async Task<string> RunWrkAsync(string url, string header, string duration)
{
    var wrk = Process.Start(new ProcessStartInfo("wrk", ["-t2", "-c16", $"-d{duration}", "--latency", "-H", header, url]) { RedirectStandardOutput = true })!;
    var output = await wrk.StandardOutput.ReadToEndAsync();
    await wrk.WaitForExitAsync();
    return output;
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static double RssMegabytes(int pid) =>
    File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
        .Select(l => double.Parse(Regex.Match(l, @"\d+").Value, CultureInfo.InvariantCulture) / 1024).First();

[System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
static extern int Kill(int pid, int signal);
