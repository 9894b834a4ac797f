using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using Baton.Sessions.Tests.Infrastructure;

// Session benchmarks through the gateway: the whole system (launcher, gateway, runs service, Redis), a real PTY
// ("server" runner) and a real tmux server of the bench's own ("external" runner).
var results = new StringBuilder();
void Report(string line)
{
    Console.WriteLine(line);
    results.AppendLine(line);
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p))];

Report($"# Baton session benchmarks\n\nMachine: {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. Whole system through the gateway (WebSocket `/ws/session/{{id}}`, REST `/api/sessions/*`).\n");

var system = new SessionsSystem();
await system.InitializeAsync();
try
{
    // 1. Keystroke → echo: one byte in over the WebSocket, the same byte back from `cat` in raw mode.
    foreach (var runner in new[] { "server", "external" })
    {
        var profile = system.NewProfile("/bin/sh -c \"stty raw -echo; exec cat\"");
        var id = await system.CreateSessionAsync(profile, runner);
        await using var socket = await RawSocket.ConnectAsync(system, id);
        await socket.RoundTripAsync((byte)'w');
        var samples = new List<double>();
        for (var i = 0; i < 500; i++)
        {
            var key = (byte)('a' + (i % 26));
            var watch = Stopwatch.StartNew();
            await socket.RoundTripAsync(key);
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }
        samples.Sort();
        Report($"## Keystroke → echo over /ws/session ({runner} runner, 500 keystrokes)\n\np50 {Percentile(samples, 0.5):F2} ms, p90 {Percentile(samples, 0.9):F2} ms, p99 {Percentile(samples, 0.99):F2} ms (target p50 < 5 ms)\n");
        await system.DeleteSessionAsync(id);
    }

    // 2. 50 concurrent sessions, each printing 20,000 numbered lines to its own viewer, every viewer checked complete.
    {
        const int Sessions = 50;
        const int Lines = 20_000;
        var profile = system.NewProfile($"/bin/sh -c \"stty -echo; read go; seq 1 {Lines}; echo END; read stop\"", singleton: false);
        var ids = new List<string>();
        for (var i = 0; i < Sessions; i++)
        {
            ids.Add(await system.CreateSessionAsync(profile));
        }
        var viewers = new List<SessionSocket>();
        foreach (var id in ids)
        {
            viewers.Add(await system.ConnectAsync(id, cursor: 0));
        }
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(id => system.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), "\n"u8.ToArray())));
        await Task.WhenAll(viewers.Select(v => v.WaitForAsync("END\r\n", TimeSpan.FromMinutes(5))));
        var elapsed = watch.Elapsed;
        var complete = 0;
        long bytes = 0;
        foreach (var viewer in viewers)
        {
            var numbers = Regex.Matches(viewer.Text, @"(?m)^(\d+)\r$").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            if (numbers.SequenceEqual(Enumerable.Range(1, Lines)))
            {
                complete++;
            }
            bytes += viewer.Bytes.Length;
            await viewer.DisposeAsync();
        }
        Report($"## {Sessions} concurrent sessions streaming output (server runner, {Lines:N0} lines each)\n\n{complete}/{Sessions} viewers received every line in order; {bytes / 1024.0 / 1024.0:F1} MiB in {elapsed.TotalSeconds:F2} s ({bytes / 1024.0 / 1024.0 / elapsed.TotalSeconds:F1} MiB/s through the gateway)\n");
        foreach (var id in ids)
        {
            await system.DeleteSessionAsync(id);
        }
    }

    // 3. History pages over a full 5 MiB session log.
    {
        var profile = system.NewProfile("/bin/sh -c \"stty -echo; read go; seq 1 900000; echo END; read stop\"");
        var id = await system.CreateSessionAsync(profile);
        await using var viewer = await system.ConnectAsync(id);
        await system.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), "\n"u8.ToArray());
        await viewer.WaitForAsync("END\r\n", TimeSpan.FromMinutes(5));
        var (_, first) = await system.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "history") + "?lines=2000");
        var newest = (long)first!["cursor"]!;
        var samples = new List<double>();
        var random = new Random(1);
        for (var i = 0; i < 60; i++)
        {
            // From the end, then from random points across the retained log (two rotated files of up to 5 MiB).
            var query = i % 3 == 0 ? "?lines=2000" : $"?lines=2000&before_cursor={random.NextInt64(newest / 2, newest)}";
            var watch = Stopwatch.StartNew();
            var (status, page) = await system.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "history") + query);
            samples.Add(watch.Elapsed.TotalMilliseconds);
            if (status != 200 || page!["lines"]!.AsArray().Count != 2000)
            {
                throw new InvalidOperationException($"history page failed: {status}");
            }
        }
        samples.Sort();
        // This session's folder is "<id, lower-cased, punctuation as '-'>-<hash>".
        var folder = Directory.EnumerateDirectories(Path.Combine(system.System.DataDir, "runs", "sessions"), profile.ToLowerInvariant() + "-1-*").Single();
        var logBytes = Directory.EnumerateFiles(folder, "output.log*").Sum(f => new FileInfo(f).Length);
        Report($"## History page (2,000 lines) over a full session log ({logBytes / 1024.0 / 1024.0:F1} MiB on disk: 5 MiB cap + one rotated file)\n\np50 {Percentile(samples, 0.5):F1} ms, p90 {Percentile(samples, 0.9):F1} ms, max {samples[^1]:F1} ms over 60 requests through the gateway (target < 50 ms)\n");
        await system.DeleteSessionAsync(id);

        // The same page computed in-process over a 5 MiB log: the service's own share of the time above.
        using var scratch = new TempDir("bt-bench-");
        using var log = new Baton.Runs.Sessions.SessionOutput(scratch.Path, 5 * 1024 * 1024, 256 * 1024);
        for (var i = 0; log.End < 5 * 1024 * 1024 - 64; i++)
        {
            log.Append(Encoding.UTF8.GetBytes($"\u001b[32m{i,8}\u001b[0m some agent output on line {i}\r\n"));
        }
        var local = new List<double>();
        for (var i = 0; i < 100; i++)
        {
            var before = i % 2 == 0 ? (long?)null : random.NextInt64(log.End / 10, log.End);
            var watch = Stopwatch.StartNew();
            var (lines, _) = Baton.Runs.Sessions.SessionHistory.Page(log, 2000, before);
            local.Add(watch.Elapsed.TotalMilliseconds);
            if (lines.Count < 1999)
            {
                throw new InvalidOperationException($"short page: {lines.Count}");
            }
        }
        local.Sort();
        Report($"In-process, the same 2,000-line page over a {log.End / 1024.0 / 1024.0:F1} MiB log (escape sequences stripped): p50 {Percentile(local, 0.5):F2} ms, p90 {Percentile(local, 0.9):F2} ms over 100 pages.\n");
    }
}
finally
{
    await system.DisposeAsync();
}

var output = Path.Combine(AppContext.BaseDirectory, "RESULTS.md");
File.WriteAllText(output, results.ToString());
Console.WriteLine($"written {output}");

/// <summary>A bare WebSocket for the echo benchmark: send one byte, wait for that byte.</summary>
internal sealed class RawSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];

    private RawSocket(ClientWebSocket socket) => _socket = socket;

    public static async Task<RawSocket> ConnectAsync(SessionsSystem system, string id)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + system.System.Token);
        await socket.ConnectAsync(new Uri($"ws://{system.System.GatewayUrl.Authority}/ws/session/{Uri.EscapeDataString(id)}"), CancellationToken.None);
        return new RawSocket(socket);
    }

    public async Task RoundTripAsync(byte key)
    {
        await _socket.SendAsync(new[] { key }, WebSocketMessageType.Binary, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException("the session closed");
            }
            if (result.Count > 0 && _buffer[result.Count - 1] == key)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }
        catch (WebSocketException)
        {
        }
        _socket.Dispose();
    }
}
