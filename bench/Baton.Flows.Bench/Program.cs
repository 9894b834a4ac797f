using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Gestalt;

// File change in BATON_WORKDIR → webhook received by a local HTTP server, through the whole system:
// the runs service's workdir watcher (debounce included, BATON_FILE_EVENTS_DEBOUNCE_MS, default 200 ms),
// the durable event log, the flow engine and a real HTTP POST. Each sample writes the file and waits
// for its webhook; samples are spaced so every change is its own debounce window.
var samples = int.TryParse(Environment.GetEnvironmentVariable("BENCH_SAMPLES"), CultureInfo.InvariantCulture, out var n) ? n : 30;
await using var receiver = await WebhookReceiver.StartAsync();
await using var gestalt = await GestaltSystem.StartAsync();
var content = new StringContent($$$"""
    version: 1
    flows:
      - id: bench
        event_type: file-change
        where: {path: bench.txt}
        bindings:
          - activity_id: post_webhook
            config: {url: "{{{receiver.Url}}}/bench", body_template: '{"event":"{{event_id}}"}'}
    """, Encoding.UTF8);
content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/yaml");
(await gestalt.Http.PostAsync("/api/flow/config/import", content)).EnsureSuccessStatusCode();

var file = Path.Combine(gestalt.WorkDir, "bench.txt");
// Warm-up: the watcher starts once the flow exists; touch the file until the first webhook arrives.
while (true)
{
    await File.WriteAllTextAsync(file, "warm-up " + Guid.NewGuid());
    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
    try
    {
        await receiver.Received.ReadAsync(wait.Token);
        break;
    }
    catch (OperationCanceledException)
    {
    }
}
await Task.Delay(1000);
while (receiver.Received.TryRead(out _))
{
}

var latencies = new List<double>();
for (var i = 0; i < samples; i++)
{
    var watch = Stopwatch.StartNew();
    await File.WriteAllTextAsync(file, $"sample {i} {Guid.NewGuid()}");
    await receiver.NextAsync(TimeSpan.FromSeconds(30));
    latencies.Add(watch.Elapsed.TotalMilliseconds);
    // Let the debounce window of this change close before the next one.
    await Task.Delay(400);
    while (receiver.Received.TryRead(out _))
    {
    }
}
latencies.Sort();
double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Floor(p * latencies.Count))];
Console.WriteLine($"file change → webhook received ({samples} samples, debounce 200 ms included): " +
    $"p50 {Percentile(0.5):F0} ms, p90 {Percentile(0.9):F0} ms, min {latencies[0]:F0} ms, max {latencies[^1]:F0} ms");
