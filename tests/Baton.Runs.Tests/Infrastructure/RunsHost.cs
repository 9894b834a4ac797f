using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Baton.AppHost.Orchestration;
using Baton.Contracts.Runs.V1;
using Baton.Testing;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Runs.Tests.Infrastructure;

public sealed class RunsHostOptions
{
    public string? DataDir { get; init; }
    public FakeGitServer? Git { get; init; }
    public int MaxConcurrentRuns { get; init; } = 4;
    public Dictionary<string, string> Settings { get; init; } = [];

    /// <summary>BATON_CLAUDE_COMMAND: the claude-code CLI the service starts (default: the fake script).</summary>
    public string? ClaudeCommand { get; init; }

    /// <summary>BATON_CODEX_COMMAND: the codex CLI the service starts (default: the service's own default, "codex").</summary>
    public string? CodexCommand { get; init; }
}

/// <summary>
/// The runs service in-process on real Kestrel ports (HTTP/1.1 REST + h2c gRPC), a fake git
/// service, and a stand-in gateway that forwards the CLI's hook calls with the internal secret.
/// </summary>
public sealed class RunsHost : IAsyncDisposable
{
    public const string InternalSecret = "test-internal-secret";

    private readonly RunsFactory _factory;
    private readonly WebApplication _gateway;
    private readonly bool _ownsGit;
    private readonly bool _ownsDataDir;

    private RunsHost(RunsFactory factory, WebApplication gateway, FakeGitServer git, bool ownsGit, string dataDir, bool ownsDataDir, string httpUrl, string grpcUrl,
        System.Collections.Concurrent.ConcurrentQueue<JsonObject> hookPayloads)
    {
        HookPayloads = hookPayloads;
        _factory = factory;
        _gateway = gateway;
        Git = git;
        _ownsGit = ownsGit;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        HttpUrl = httpUrl;
        Http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = new Uri(httpUrl), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Add("x-baton-internal", InternalSecret);
        Channel = GrpcChannel.ForAddress(grpcUrl, new GrpcChannelOptions
        {
            HttpHandler = new InternalSecretHandler(new SocketsHttpHandler { EnableMultipleHttp2Connections = true }),
        });
        Client = new RunsService.RunsServiceClient(Channel);
    }

    public FakeGitServer Git { get; }

    /// <summary>Every hook payload the CLI posted (through the stand-in gateway), as it sent it: what the real CLI really sends.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<JsonObject> HookPayloads { get; }
    public string DataDir { get; }
    public string HttpUrl { get; }
    public HttpClient Http { get; }
    public GrpcChannel Channel { get; }
    public RunsService.RunsServiceClient Client { get; }
    public IServiceProvider Services => _factory.Services;

    public static string FakeClaudePath => Path.Combine(AppContext.BaseDirectory, "Fakes", "fake-claude.sh");

    /// <summary>A new folder under the test process's temp root (removed when the process exits, and by its owner before).</summary>
    public static string NewTempDir(string prefix) => TestEnvironment.NewDirectory("baton-" + prefix);

    public static async Task<RunsHost> StartAsync(RunsHostOptions? options = null)
    {
        options ??= new RunsHostOptions();
        var dataDir = options.DataDir ?? NewTempDir("runs");
        var git = options.Git ?? await FakeGitServer.StartAsync(Path.Combine(dataDir, "worktrees"));
        var httpPort = Ports.Free();
        var grpcPort = Ports.Free();
        var httpUrl = $"http://127.0.0.1:{httpPort}";
        var hookPayloads = new System.Collections.Concurrent.ConcurrentQueue<JsonObject>();
        var gateway = await StartGatewayAsync(httpUrl, hookPayloads);
        var gatewayUrl = gateway.Urls.First();
        var settings = new Dictionary<string, string>
        {
            ["BATON_INTERNAL_SECRET"] = InternalSecret,
            ["BATON_DATA_DIR"] = dataDir,
            ["BATON_CLAUDE_COMMAND"] = options.ClaudeCommand ?? FakeClaudePath,
            ["BATON_PUBLIC_URL"] = gatewayUrl,
            ["BATON_MAX_CONCURRENT_RUNS"] = options.MaxConcurrentRuns.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BATON_KILL_GRACE_SECONDS"] = "1",
            ["BATON_NOTIFY_RETRY_BASE_MS"] = "50",
            ["services:git:grpc:0"] = git.Url,
            ["Kestrel:Endpoints:Http:Url"] = httpUrl,
            ["Kestrel:Endpoints:Grpc:Url"] = $"http://127.0.0.1:{grpcPort}",
            ["Kestrel:Endpoints:Grpc:Protocols"] = "Http2",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (options.CodexCommand is not null)
        {
            settings["BATON_CODEX_COMMAND"] = options.CodexCommand;
        }
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }
        var factory = new RunsFactory(settings);
        factory.UseKestrel();
        factory.StartServer();
        return new RunsHost(factory, gateway, git, options.Git is null, dataDir, options.DataDir is null, httpUrl, $"http://127.0.0.1:{grpcPort}", hookPayloads);
    }

    /// <summary>Stops the service only (processes are killed, data stays), for restart tests.</summary>
    public async Task StopServiceAsync()
    {
        await _factory.DisposeAsync();
        await _gateway.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        await _factory.DisposeAsync();
        await _gateway.DisposeAsync();
        if (_ownsGit)
        {
            await Git.DisposeAsync();
        }
        if (_ownsDataDir)
        {
            TestEnvironment.DeleteQuietly(DataDir);
        }
    }

    // ---- REST helpers ----

    public async Task<JsonObject> CreateProjectWithRepoAsync(string name = "p")
    {
        var project = await PostJsonAsync("/api/projects", new { name }, HttpStatusCode.Created);
        var repo = GitProcess.CreateRepo(Path.Combine(DataDir, "repos", $"{name}-{Guid.NewGuid():N}"[..20]));
        Git.Service.AddRepo((string)project["id"]!, "app", repo);
        return project;
    }

    public async Task<JsonObject> CreateAgentAsync(string projectId, object? extra = null)
    {
        var body = new JsonObject { ["project_id"] = projectId, ["name"] = "builder" };
        if (extra is not null)
        {
            foreach (var (key, value) in System.Text.Json.JsonSerializer.SerializeToNode(extra)!.AsObject())
            {
                body[key] = value?.DeepClone();
            }
        }
        return await PostJsonAsync("/api/agents", body, HttpStatusCode.Created);
    }

    public Task<JsonObject> CreateRunAsync(string agentId, string task) =>
        PostJsonAsync("/api/runs", new { agent_id = agentId, task }, HttpStatusCode.Created);

    public async Task<JsonObject> PostJsonAsync(string path, object body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"POST {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        }
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<JsonNode> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode}: {text}");
        }
        return JsonNode.Parse(text)!;
    }

    public async Task<JsonObject> GetRunAsync(string runId) => (await GetJsonAsync($"/api/runs/{runId}")).AsObject();

    public async Task<JsonArray> GetEventsAsync(string runId) => (await GetJsonAsync($"/api/runs/{runId}/events")).AsArray();

    public async Task<JsonObject> WaitForStatusAsync(string runId, string status, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        await Eventually.WaitAsync(async () =>
        {
            last = await GetRunAsync(runId);
            return (string?)last["status"] == status;
        }, timeout ?? TimeSpan.FromSeconds(30), () => $"run {runId} never reached {status}; last: {last?.ToJsonString()}");
        return last!;
    }

    public async Task WaitForEventAsync(string runId, string eventType, TimeSpan? timeout = null) =>
        await Eventually.WaitAsync(async () => (await GetEventsAsync(runId)).Any(e => (string?)e!["event_type"] == eventType),
            timeout ?? TimeSpan.FromSeconds(30), () => $"run {runId} never had a {eventType} event");

    /// <summary>What the real gateway does for POST /api/runs/{id}/hook: open at the edge, forwarded with the internal secret.</summary>
    private static async Task<WebApplication> StartGatewayAsync(string runsHttpUrl, System.Collections.Concurrent.ConcurrentQueue<JsonObject> hookPayloads)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var client = new HttpClient { BaseAddress = new Uri(runsHttpUrl) };
        app.MapPost("/api/runs/{id}/hook", async (HttpContext context, string id) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            try
            {
                if (JsonNode.Parse(body.ToArray()) is JsonObject payload)
                {
                    hookPayloads.Enqueue(payload);
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{id}/hook") { Content = new ByteArrayContent(body.ToArray()) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
            request.Headers.Add("x-baton-internal", InternalSecret);
            if (context.Request.Headers.TryGetValue("X-Run-Hook-Secret", out var secret))
            {
                request.Headers.TryAddWithoutValidation("X-Run-Hook-Secret", secret.ToString());
            }
            using var response = await client.SendAsync(request);
            context.Response.StatusCode = (int)response.StatusCode;
            await context.Response.Body.WriteAsync(await response.Content.ReadAsByteArrayAsync());
        });
        await app.StartAsync();
        return app;
    }

    private sealed class RunsFactory(Dictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            // Also when the entry assembly is not a test assembly (the benchmark): no solution-relative guessing.
            builder.UseContentRoot(AppContext.BaseDirectory);
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }

    private sealed class InternalSecretHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation("x-baton-internal", InternalSecret);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

internal static class Text
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
