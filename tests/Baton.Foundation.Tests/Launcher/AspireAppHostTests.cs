using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.ApplicationModel;
using Baton.Contracts.Gateway.V1;
using Baton.Foundation.Tests.EndToEnd;
using Baton.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Baton.Foundation.Tests.Launcher;

/// <summary>The whole system through the real Aspire AppHost, observed through Aspire's own resource notifications.</summary>
[Collection(AppHostCollection.Name)]
[Trait("Category", "Redis")]
public sealed class AspireAppHostTests(AppHostFixture fx)
{
    [Fact]
    public void EveryResource_ReachesRunningAndHealthy_AndTheGatewayWaitsForTheServices()
    {
        var events = fx.Events.ToList();
        string[] resources = [fx.EventBusName, "runs", "chat", "integrations", "git", "gateway"];
        foreach (var name in resources)
        {
            Assert.Contains(events, e => e.Resource.Name == name && e.Snapshot.State?.Text == KnownResourceStates.Running
                && e.Snapshot.HealthStatus == HealthStatus.Healthy);
        }
        // WaitFor: the gateway process runs only once every service reported healthy.
        var gatewayStarted = events.FindIndex(e => e.Resource.Name == "gateway" && e.Snapshot.State?.Text == KnownResourceStates.Running);
        Assert.True(gatewayStarted >= 0, "the gateway was started");
        foreach (var service in new[] { "runs", "chat", "integrations", "git" })
        {
            var healthy = events.FindIndex(e => e.Resource.Name == service && e.Snapshot.HealthStatus == HealthStatus.Healthy);
            Assert.InRange(healthy, 0, gatewayStarted);
        }
    }

    [Fact]
    public async Task Ready_AnAuthenticatedRestCall_AndAGrpcCall_ThroughTheGateway()
    {
        using var anonymous = fx.CreateClient(authenticated: false);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v2/deployment/stats")).StatusCode);

        using var client = fx.CreateClient();
        using var stats = await client.GetAsync("/api/v2/deployment/stats");
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        // Proxied to a service: the project list comes from runs.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/projects")).StatusCode);

        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{fx.GrpcPort}");
        var deployment = new Deployment.DeploymentClient(channel);
        var headers = new Metadata { { "authorization", $"Bearer {fx.Token}" } };
        var info = await deployment.GetBuildInfoAsync(new(), headers);
        Assert.False(string.IsNullOrEmpty(info.Version));
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await deployment.GetBuildInfoAsync(new()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
    }

    [Fact]
    public async Task AProxiedRequest_IsOneTraceAcrossTheGatewayAndTheOwningService()
    {
        using var client = fx.CreateClient();
        var traceId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var clientSpan = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/bindings");
        request.Headers.Add("traceparent", $"00-{traceId}-{clientSpan}-01");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);

        var spans = await Eventually.WaitAsync(() => Task.FromResult(fx.Otlp.Spans.Where(s => s.TraceId == traceId).ToList()),
            s => s.Any(x => x.Service == "gateway") && s.Any(x => x.Service == "integrations"), TimeSpan.FromSeconds(60),
            "spans of the request from the gateway and from integrations");
        // The service's server span hangs off a span the gateway made: the gateway propagated the trace, not just the header.
        var gatewaySpans = spans.Where(s => s.Service == "gateway").Select(s => s.SpanId).ToHashSet();
        Assert.Contains(spans, s => s.Service == "integrations" && gatewaySpans.Contains(s.ParentSpanId));
    }

    [Fact]
    public async Task KilledEventBus_IsRestartedWithin5Seconds_ServicesReconnect_AndNoDurableEventIsLost()
    {
        using var client = fx.CreateClient();
        var runId = await StartSlowRunAsync(client);

        var before = LastEvent(fx.EventBusName);
        var pid = int.Parse(before.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value!.ToString()!, CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill(entireProcessTree: true);

        // Aspire's notifications show it exit, then run again (a new process) and answer PING.
        await Eventually.WaitAsync(() => Task.FromResult(fx.Events.Any(e => e.Resource.Name == fx.EventBusName
                && e.Snapshot.State?.Text == KnownResourceStates.Running && e.Snapshot.HealthStatus == HealthStatus.Healthy
                && e.Snapshot.Properties.Any(p => p.Name == "executable.pid" && p.Value?.ToString() != pid.ToString(CultureInfo.InvariantCulture)))),
            TimeSpan.FromSeconds(60), "the event bus runs again");
        var restartedAfter = clock.Elapsed;
        Assert.Contains(fx.Logs, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("restarting it in", StringComparison.Ordinal));
        await Eventually.WaitAsync(() => Task.FromResult(fx.Logs.Any(l => l.Contains("is back after", StringComparison.Ordinal))), what: "the AppHost says it is back");
        await Eventually.WaitAsync(async () => (await client.GetAsync("/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "ready again");

        // The services reconnected: a log record published now reaches a live stream through the bus.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = await client.GetAsync("/api/logs/stream", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var sse = new SseReader(await stream.Content.ReadAsStreamAsync(timeout.Token));
        var marker = Guid.NewGuid().ToString("N");
        var reporting = Task.Run(async () =>
        {
            while (!timeout.IsCancellationRequested)
            {
                await LogStreamTests.Report(client, marker);
                await Task.Delay(250);
            }
        });
        while (await sse.ReadFrameAsync(timeout.Token) is { } frame && !frame.Data.Contains(marker, StringComparison.Ordinal))
        {
        }
        await timeout.CancelAsync();

        // The run went on through the outage; its durable events are all there, in order, without a gap.
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await client.GetStringAsync($"/api/runs/{runId}"))!["status"] == "completed",
            TimeSpan.FromSeconds(60), "the run completes");
        var sequences = JsonNode.Parse(await client.GetStringAsync($"/api/runs/{runId}/events"))!.AsArray()
            .Select(e => long.Parse(e!["sequence"]!.ToString(), CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(i => (long)i), sequences);
        Assert.True(sequences.Count >= 2, $"events: {sequences.Count}");
        Console.WriteLine($"event bus back (running and answering PING) {restartedAfter.TotalSeconds:0.00} s after it was killed");
    }

    [Fact]
    public async Task ACrashedService_IsReportedLoudly_AndIsNotRestarted_UntilStartedAgain()
    {
        using var client = fx.CreateClient(authenticated: false);
        var pid = int.Parse(LastEvent("chat").Snapshot.Properties.Single(p => p.Name == "executable.pid").Value!.ToString()!, CultureInfo.InvariantCulture);
        Process.GetProcessById(pid).Kill();

        await Eventually.WaitAsync(() => Task.FromResult(fx.Logs.Any(l => l.StartsWith("Error: chat CRASHED", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(60), "the AppHost reports the crash");
        var notReady = await Eventually.WaitAsync(() => client.GetAsync("/ready"), r => r.StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(30), "ready reports the crashed service");
        Assert.Contains("chat", await notReady.Content.ReadAsStringAsync());
        Assert.NotEqual(KnownResourceStates.Running, LastEvent("chat").Snapshot.State?.Text);

        // The dashboard's Start command brings it back.
        var commands = fx.App.Services.GetRequiredService<ResourceCommandService>();
        Assert.True((await commands.ExecuteCommandAsync(LastEvent("chat").Resource, KnownResourceCommands.StartCommand)).Success);
        await Eventually.WaitAsync(async () => (await client.GetAsync("/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(90), "ready again");
    }

    private ResourceEvent LastEvent(string resource) => fx.Events.Last(e => e.Resource.Name == resource);

    /// <summary>A project with a real repository and a custom agent whose command outlives the bus outage.</summary>
    private async Task<string> StartSlowRunAsync(HttpClient client)
    {
        using var project = await client.PostAsJsonAsync("/api/projects", new { name = "bus-outage" });
        Assert.Equal(HttpStatusCode.Created, project.StatusCode);
        var projectId = (string)JsonNode.Parse(await project.Content.ReadAsStringAsync())!["id"]!;
        var repo = Directory.CreateDirectory(Path.Combine(fx.DataDir, "repo-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        GitProcess.Run(repo, "init", "-q", "-b", "main");
        await File.WriteAllTextAsync(Path.Combine(repo, "README"), "x");
        GitProcess.Run(repo, "add", ".");
        GitProcess.Run(repo, "commit", "-q", "-m", "init");
        using var repoResponse = await client.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repo });
        Assert.Equal(HttpStatusCode.Created, repoResponse.StatusCode);
        using var agent = await client.PostAsJsonAsync("/api/agents", new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "slow",
            ["cli_name"] = "custom",
            ["provider_config"] = new JsonObject { ["command"] = "echo started; sleep 4; echo finished" },
        });
        Assert.Equal(HttpStatusCode.Created, agent.StatusCode);
        var agentId = (string)JsonNode.Parse(await agent.Content.ReadAsStringAsync())!["id"]!;
        using var run = await client.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "outlive the bus" });
        Assert.Equal(HttpStatusCode.Created, run.StatusCode);
        var runId = (string)JsonNode.Parse(await run.Content.ReadAsStringAsync())!["id"]!;
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await client.GetStringAsync($"/api/runs/{runId}"))!["status"] == "running",
            TimeSpan.FromSeconds(60), "the run is running");
        return runId;
    }
}
