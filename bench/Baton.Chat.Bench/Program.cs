using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Chat.Tests.Infrastructure;
using Baton.Contracts.Chat.V1;
using Baton.Contracts.Common.V1;
using Baton.Testing;

// Chat benchmarks through the real system: gateway WebSocket → chat service (gRPC Converse) → local model fake.
var results = new StringBuilder();
void Report(string line)
{
    Console.WriteLine(line);
    results.AppendLine(line);
}

var concurrent = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
Report($"# Baton chat benchmarks\n\nMachine: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. Whole system (BatonSystem: gateway, four services, redis-server), model fakes in this process.\n");

await using var system = await BatonSystem.StartAsync();
using var http = system.CreateClient();
using var channel = system.CreateGrpcChannel();
var chatService = new ChatService.ChatServiceClient(channel);

// 1. Idle RSS of the chat service, once it has started and settled.
await Task.Delay(TimeSpan.FromSeconds(10));
var idle = await chatService.GetStatusAsync(new StatusRequest());
Report($"## Chat service idle RSS\n\n{idle.RssBytes / 1024.0 / 1024.0:F1} MB after start-up (target < 120 MB)\n");

await http.PutAsJsonAsync("/api/permissions", new { mode = "autonomous" });

// 2. Upstream token → WebSocket frame: the fake stamps each streamed token with the time it was written.
await using (var fake = await FakeLlm.StartAsync(_ => new ModelReply([]) { Live = Stamped }))
{
    var profile = await CreateProfileAsync(fake, "anthropic");
    var chatId = await CreateChatAsync(profile);
    var latencies = new List<double>();
    var upstream = new List<double>();
    var downstream = new List<double>();
    var clockUtc = DateTime.UtcNow;
    var clockTicks = Stopwatch.GetTimestamp();
    await using var socket = await ChatSocket.ConnectAsync(system, chatId);
    for (var turn = 0; turn < 5; turn++)
    {
        var from = socket.Events.Count;
        var received = new List<(long Stamp, long At)>();
        await socket.SayAsync("stream");
        await socket.WaitForTypeAsync("agent.turn_complete", from, TimeSpan.FromMinutes(2));
        foreach (var e in socket.Events.Skip(from).Where(e => (string?)e["type"] == "agent.text_delta"))
        {
            var text = (string)e["data"]!["text"]!;
            var parts = text[1..].Trim().Split('/');
            var stamp = long.Parse(parts[0], CultureInfo.InvariantCulture);
            var sentUtc = new DateTime(long.Parse(parts[1], CultureInfo.InvariantCulture), DateTimeKind.Utc);
            var arrived = socket.ReceivedAt(e);
            latencies.Add(Stopwatch.GetElapsedTime(stamp, arrived).TotalMilliseconds);
            // Split at the envelope's timestamp, taken when the chat service had the token from the SDK.
            var emitted = DateTime.Parse((string)e["timestamp"]!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
            var arrivedUtc = clockUtc + Stopwatch.GetElapsedTime(clockTicks, arrived);
            upstream.Add((emitted - sentUtc).TotalMilliseconds);
            downstream.Add((arrivedUtc - emitted).TotalMilliseconds);
        }
    }
    // Baseline on the same machine at the same moment: the fake's SSE read straight from this process, no Baton in between.
    var baseline = new List<double>();
    using var direct = new HttpClient();
    for (var turn = 0; turn < 2; turn++)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, fake.Url + "/v1/messages")
        {
            Content = JsonContent.Create(new { model = "bench", max_tokens = 100, stream = true, messages = new[] { new { role = "user", content = "x" } } }),
        };
        request.Headers.Add("x-api-key", fake.ApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await direct.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            var at = line.IndexOf("\"text\":\"t", StringComparison.Ordinal);
            if (line.StartsWith("data:", StringComparison.Ordinal) && at >= 0)
            {
                var now = Stopwatch.GetTimestamp();
                var digits = line.AsSpan(at + 9);
                baseline.Add(Stopwatch.GetElapsedTime(long.Parse(digits[..digits.IndexOf('/')], CultureInfo.InvariantCulture), now).TotalMilliseconds);
            }
        }
    }
    baseline.Sort();
    latencies.Sort();
    upstream.Sort();
    downstream.Sort();
    Report($"## Upstream token → WebSocket frame ({latencies.Count} tokens, 5 turns of 100 tokens 10 ms apart, Anthropic SSE)\n\n" +
        $"p50 {Pct(latencies, 0.5):F2} ms, p90 {Pct(latencies, 0.9):F2} ms, p99 {Pct(latencies, 0.99):F2} ms, max {latencies[^1]:F2} ms (target p50 < 5 ms)\n\n" +
        $"Split at the envelope timestamp: fake → chat service has the token (SDK, agent loop) p50 {Pct(upstream, 0.5):F2} ms; envelope → WebSocket frame (event log commit, Converse, gateway bridge) p50 {Pct(downstream, 0.5):F2} ms\n\n" +
        $"Baseline, the fake's SSE read directly by this process at the same time: p50 {Pct(baseline, 0.5):F2} ms, p90 {Pct(baseline, 0.9):F2} ms. Load average: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}\n");
}

// 3. N concurrent streaming chats, every stream complete and exact.
await using (var fake = await FakeLlm.StartAsync(call => ModelReply.Text(Expected(call.UserTexts[^1]))))
{
    var anthropic = await CreateProfileAsync(fake, "anthropic");
    var openai = await CreateProfileAsync(fake, "openai");
    var chats = new List<string>();
    for (var i = 0; i < concurrent; i++)
    {
        chats.Add(await CreateChatAsync(i % 2 == 0 ? anthropic : openai));
    }
    var sockets = new List<ChatSocket>();
    foreach (var id in chats)
    {
        sockets.Add(await ChatSocket.ConnectAsync(system, id));
    }
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(sockets.Select((s, i) => s.SayAsync($"chat{i}")));
    await Task.WhenAll(sockets.Select(s => s.WaitForTypeAsync("agent.turn_complete", 0, TimeSpan.FromMinutes(5))));
    var elapsed = watch.Elapsed;
    var complete = 0;
    for (var i = 0; i < sockets.Count; i++)
    {
        var text = string.Concat(sockets[i].Events.Where(e => (string?)e["type"] == "agent.text_delta").Select(e => (string)e["data"]!["text"]!));
        if (text == Expected($"chat{i}"))
        {
            complete++;
        }
    }
    var frames = sockets.Sum(s => s.Events.Count);
    Report($"## {concurrent} concurrent streaming chats (50 tokens each, half Anthropic SSE, half OpenAI chunks)\n\n" +
        $"{complete}/{concurrent} streams complete and exact, {frames} frames in {elapsed.TotalSeconds:F1} s ({frames / elapsed.TotalSeconds:F0} frames/s)\n");
    foreach (var socket in sockets)
    {
        await socket.DisposeAsync();
    }
}

var after = await chatService.GetStatusAsync(new StatusRequest());
Report($"Chat service RSS after the load: {after.RssBytes / 1024.0 / 1024.0:F1} MB\n");
var path = Path.Combine(AppContext.BaseDirectory, "RESULTS.md");
await File.WriteAllTextAsync(path, results.ToString());
Console.WriteLine($"written to {path}");

static string Expected(string prompt) => string.Join(" ", Enumerable.Range(1, 50).Select(i => $"{prompt}-t{i}"));

static double Pct(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p))];

static async IAsyncEnumerable<string> Stamped([EnumeratorCancellation] CancellationToken ct)
{
    for (var i = 0; i < 100; i++)
    {
        await Task.Delay(10, ct);
        yield return $"t{Stopwatch.GetTimestamp()}/{DateTime.UtcNow.Ticks} ";
    }
}

async Task<string> CreateProfileAsync(FakeLlm fake, string provider)
{
    var name = $"bench-{provider}-{Guid.NewGuid():N}"[..24];
    using var response = await http.PostAsJsonAsync("/api/profiles", new JsonObject
    {
        ["name"] = name,
        ["profile"] = new JsonObject { ["provider"] = provider, ["model"] = "bench", ["base_url"] = fake.BaseUrl(provider), ["api_key"] = fake.ApiKey },
    });
    response.EnsureSuccessStatusCode();
    return name;
}

async Task<string> CreateChatAsync(string profile)
{
    using var response = await http.PostAsJsonAsync("/api/chats", new { profile });
    response.EnsureSuccessStatusCode();
    return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["chat_id"]!;
}
