using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Baton.AppHost.Orchestration;

// 1. Start time: the AppHost as a user runs it (DCP, the dashboard, the event bus, five processes),
//    from the command to /ready = 200. The first start after a build is the cold one; the later ones
//    are warm. The idle RSS of each process is read from the first run, 5 s after /ready. Each start
//    alternates with one of the floor (bench/Baton.AspireFloor: the same Aspire model with empty
//    services, up when its gateway answers /health), so load from elsewhere hits both alike.
var appHost = Path.Combine(ServiceCatalog.RepositoryRoot, "artifacts", "bin", "Aspire.AppHost", "release", "Aspire.AppHost.dll");
var floorAppHost = Path.Combine(ServiceCatalog.RepositoryRoot, "artifacts", "bin", "Baton.AspireFloor.AppHost", "release", "Baton.AspireFloor.AppHost.dll");
var starts = new List<double>();
var floorStarts = new List<double>();
Dictionary<string, double> idleRss = [];
for (var i = 0; i < 4; i++)
{
    var (seconds, rss) = await AppHostStartAsync(appHost, "/ready", measureRss: i == 0);
    starts.Add(seconds);
    if (i == 0)
    {
        idleRss = rss;
    }
    floorStarts.Add((await AppHostStartAsync(floorAppHost, "/health", measureRss: false)).Seconds);
}

// 2. Gateway overhead on a transcoded unary route (GET /api/v1/bindings, owned by integrations).
const string Token = "bench-token";
var dataDir = Directory.CreateTempSubdirectory("baton-bench-").FullName;
var options = new LaunchOptions { Port = Ports.Free(), GrpcPort = Ports.Free(), DataDir = dataDir, WorkDir = dataDir, Token = Token, UseColor = false };
// The benchmark measures request handling, not console logging of each request.
options.Environment["Logging__LogLevel__Default"] = "Warning";
await using var system = await Orchestrator.StartAsync(options);
await Task.Delay(TimeSpan.FromSeconds(5));
var (servicePort, serviceGrpcPort) = system.PortsOf("integrations");
var referencePort = Ports.Free();
await using var referenceProxy = await ReferenceProxy.StartAsync(referencePort, $"http://127.0.0.1:{serviceGrpcPort}");
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
var reference = (Rps: Median(referenceRuns.Select(r => r.Rps)), P50: Median(referenceRuns.Select(r => r.P50)), P99: Median(referenceRuns.Select(r => r.P99)));
var gatewayToReference = referenceRuns.Zip(gatewayRuns, (r, g) => 100 * g.Rps / r.Rps).ToList();

// 3. Memory of each process idle after start, and again after the load once the GC has settled.
await Task.Delay(TimeSpan.FromSeconds(5));
var loadedRss = system.Processes.Where(p => p.Key != "redis").ToDictionary(p => p.Key, p => RssMegabytes(p.Value.Pid));
string[] BackendNames = ["runs", "chat", "integrations", "git", "gateway"];

Console.WriteLine();
Console.WriteLine("| measurement | result | target |");
Console.WriteLine("| --- | --- | --- |");
Console.WriteLine($"| AppHost start, command → /ready 200: cold (first after the build) / warm | {starts[0]:0.00} s / {string.Join(" / ", starts.Skip(1).Select(s => $"{s:0.00} s"))} | < 10 s |");
Console.WriteLine($"| floor: the same Aspire model with empty services, command → gateway /health 200: first / later | {floorStarts[0]:0.00} s / {string.Join(" / ", floorStarts.Skip(1).Select(s => $"{s:0.00} s"))} | |");
Console.WriteLine($"| AppHost start above the floor, warm (median) | {Median(starts.Skip(1)) - Median(floorStarts.Skip(1)):0.00} s | |");
Console.WriteLine($"| direct to integrations: req/s, p50, p99 (median of {rounds}) | {direct.Rps:0} req/s, {direct.P50:0.000} ms, {direct.P99:0.000} ms | |");
Console.WriteLine($"| through the gateway (auth on): req/s, p50, p99 (median of {rounds}) | {gateway.Rps:0} req/s, {gateway.P50:0.000} ms, {gateway.P99:0.000} ms | |");
Console.WriteLine($"| bare YARP, same backend hop, no auth: req/s, p50, p99 (median of {rounds}) | {reference.Rps:0} req/s, {reference.P50:0.000} ms, {reference.P99:0.000} ms | |");
Console.WriteLine($"| gateway latency added at p50 (gateway − direct) | {gateway.P50 - direct.P50:0.000} ms | ≤ 0.3 ms |");
Console.WriteLine($"| gateway throughput / bare YARP (median; each round) | {Median(gatewayToReference):0} % ({string.Join(" / ", gatewayToReference.Select(r => $"{r:0}"))}) | ≥ 95 % |");
Console.WriteLine($"| bare YARP / direct, gateway / direct (medians) | {Median(referenceRatios):0} %, {Median(ratios):0} % | |");
foreach (var (name, mb) in idleRss.OrderBy(r => r.Key, StringComparer.Ordinal))
{
    var loaded = loadedRss.TryGetValue(name, out var after) ? $"{after:0} MB" : "–";
    Console.WriteLine($"| RSS of {name}: idle under the AppHost / after the load (launcher) | {mb:0} MB / {loaded} | {(BackendNames.Contains(name) ? "idle < 120 MB" : "")} |");
}

static async Task<(double Seconds, Dictionary<string, double> Rss)> AppHostStartAsync(string appHost, string readyPath, bool measureRss)
{
    var port = Ports.Free();
    var dataDir = Directory.CreateTempSubdirectory("baton-cold-").FullName;
    var start = new ProcessStartInfo("dotnet", [appHost, "--port", $"{port}", "--grpc-port", $"{Ports.Free()}", "--data-dir", dataDir])
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
            using var response = await http.GetAsync($"http://127.0.0.1:{port}{readyPath}");
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
    var rss = new Dictionary<string, double>(StringComparer.Ordinal);
    if (measureRss)
    {
        await Task.Delay(TimeSpan.FromSeconds(5));
        rss = AppHostProcesses(process.Id);
    }
    Kill(process.Id, 15);
    await process.WaitForExitAsync();
    Directory.Delete(dataDir, recursive: true);
    return (elapsed, rss);
}

/// <summary>RSS of the AppHost and of every process it started (DCP detaches, but names the AppHost's pid after --monitor).</summary>
static Dictionary<string, double> AppHostProcesses(int appHost)
{
    var parents = new Dictionary<int, int>();
    var commands = new Dictionary<int, string>();
    var roots = new HashSet<int> { appHost };
    foreach (var dir in Directory.EnumerateDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(dir), out var pid))
        {
            continue;
        }
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
            commands[pid] = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
            if (commands[pid].Contains($"--monitor {appHost} ", StringComparison.Ordinal))
            {
                roots.Add(pid);
            }
        }
        catch (IOException)
        {
        }
    }
    var family = new HashSet<int>(roots);
    var frontier = new Queue<int>(roots);
    while (frontier.TryDequeue(out var current))
    {
        foreach (var (pid, parent) in parents.Where(p => p.Value == current && family.Add(p.Key)))
        {
            frontier.Enqueue(pid);
        }
    }
    var rss = new Dictionary<string, double>(StringComparer.Ordinal);
    foreach (var pid in family)
    {
        var command = commands.GetValueOrDefault(pid, "");
        var name = pid == appHost ? "apphost"
            : Regex.Match(command, @"Baton\.(\w+)\.dll") is { Success: true } service ? service.Groups[1].Value.ToLowerInvariant()
            : command.Contains("Aspire.Dashboard", StringComparison.Ordinal) ? "aspire dashboard"
            : command.Contains("redis-server", StringComparison.Ordinal) || command.Contains("garnet", StringComparison.Ordinal) ? "event bus"
            : command.Contains("/dcp ", StringComparison.Ordinal) ? "dcp (all its processes)"
            : "other";
        try
        {
            rss[name] = rss.GetValueOrDefault(name) + RssMegabytes(pid);
        }
        catch (IOException)
        {
        }
    }
    return rss;
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
