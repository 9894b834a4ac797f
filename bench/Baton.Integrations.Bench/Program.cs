using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.AppHost.Orchestration;
using Baton.Contracts.Integrations.V1;
using Baton.Gateway;
using Baton.Gateway.Auth;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;

// Integrations benchmarks (README, Performance): invoke overhead over calling the upstream
// directly; what token validation adds at the gateway with the cache warm; how soon a revocation
// is refused by a second gateway replica.
const string AdminToken = "bench-admin-token";
var rounds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out var requestedRounds) ? requestedRounds : 5;
var perRound = int.TryParse(Environment.GetEnvironmentVariable("BENCH_REQUESTS"), out var requestedRequests) ? requestedRequests : 1000;

await using var upstream = await Upstream.StartAsync();
var configDir = Directory.CreateTempSubdirectory("baton-bench-config-").FullName;
await File.WriteAllTextAsync(Path.Combine(configDir, "integrations.yaml"), $"""
    auth:
      provider: local
      config:
        email: bench@example.com
    server:
      api_token_ttl: 720h
    integrations:
      echo:
        plugin:
          base_url: {upstream.BaseUrl}
          auth:
            type: manual
            credentials:
              - name: api_key
            auth_mapping:
              headers:
                X-Api-Key: api_key
          operations:
            - name: echo
              method: GET
              path: /echo
    """);
var dataDir = Directory.CreateTempSubdirectory("baton-bench-").FullName;
var options = new LaunchOptions { Port = Ports.Free(), GrpcPort = Ports.Free(), DataDir = dataDir, WorkDir = dataDir, Token = AdminToken, UseColor = false };
options.Environment["BATON_CONFIG_DIR"] = configDir;
options.Environment["Logging__LogLevel__Default"] = "Warning";
await using var system = await Orchestrator.StartAsync(options);
var gateway = new Uri(system.GatewayUrl);
using var admin = Client(gateway, AdminToken);
(await admin.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "echo", credential = "bench-key" })).EnsureSuccessStatusCode();
var apiToken = await CreateTokenAsync(admin, "bench");

// 1. Invoke overhead: the same upstream call directly and through gateway → integrations → upstream.
using var direct = new HttpClient { BaseAddress = upstream.BaseUrl };
direct.DefaultRequestHeaders.Add("X-Api-Key", "bench-key");
var directP50 = new List<double>();
var invokeP50 = new List<double>();
var hopP50 = new List<double>();
await LatenciesAsync(direct, "/echo", 300);
await LatenciesAsync(admin, "/api/v1/echo/echo", 300);
await LatenciesAsync(admin, "/api/v1/bindings", 300);
for (var round = 0; round < rounds; round++)
{
    directP50.Add(Percentile(await LatenciesAsync(direct, "/echo", perRound), 50));
    invokeP50.Add(Percentile(await LatenciesAsync(admin, "/api/v1/echo/echo", perRound), 50));
    hopP50.Add(Percentile(await LatenciesAsync(admin, "/api/v1/bindings", perRound), 50));
}

// 2. Token validation at the gateway: the admin token (a constant-time compare) against an API
// token answered from the validation cache, on a route the gateway serves itself.
using var withApiToken = Client(gateway, apiToken);
var adminRouteP50 = new List<double>();
var apiTokenRouteP50 = new List<double>();
await LatenciesAsync(admin, "/api/v2/experiments", 300);
await LatenciesAsync(withApiToken, "/api/v2/experiments", 300);
for (var round = 0; round < rounds; round++)
{
    adminRouteP50.Add(Percentile(await LatenciesAsync(admin, "/api/v2/experiments", perRound), 50));
    apiTokenRouteP50.Add(Percentile(await LatenciesAsync(withApiToken, "/api/v2/experiments", perRound), 50));
}
var (warmNs, adminNs) = await ValidatorCostAsync(system, apiToken);

// 3. Revocation seen by a second gateway replica: warm its cache, revoke through the first, poll the second.
await using var second = await SecondGateway.StartAsync(system, AdminToken);
var afterResponse = new List<double>();
var afterRequest = new List<double>();
for (var i = 0; i < 20; i++)
{
    var token = await CreateTokenAsync(admin, $"revoke-{i}");
    var id = (await (await admin.GetAsync("/api/v1/tokens")).Content.ReadFromJsonAsync<JsonArray>())!.Last()!["id"]!.GetValue<string>();
    using var onSecond = Client(second.Url, token);
    (await onSecond.GetAsync("/api/v1/tokens")).EnsureSuccessStatusCode();
    var sent = Stopwatch.GetTimestamp();
    (await admin.DeleteAsync($"/api/v1/tokens/{id}")).EnsureSuccessStatusCode();
    var answered = Stopwatch.GetTimestamp();
    while (true)
    {
        using var response = await onSecond.GetAsync("/api/v1/tokens");
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            break;
        }
        if (Stopwatch.GetElapsedTime(sent) > TimeSpan.FromSeconds(60))
        {
            throw new TimeoutException("the second replica never refused the revoked token");
        }
    }
    var refused = Stopwatch.GetTimestamp();
    afterRequest.Add(Stopwatch.GetElapsedTime(sent, refused).TotalMilliseconds);
    afterResponse.Add(Stopwatch.GetElapsedTime(answered, refused).TotalMilliseconds);
}

var overheads = directP50.Zip(invokeP50, (d, g) => g - d).ToList();
var validationDeltas = adminRouteP50.Zip(apiTokenRouteP50, (a, t) => t - a).ToList();
Console.WriteLine();
Console.WriteLine($"| measurement ({rounds} rounds × {perRound} sequential requests; medians of the rounds' p50) | result | target |");
Console.WriteLine("| --- | --- | --- |");
Console.WriteLine($"| upstream called directly, p50 | {Median(directP50):0.000} ms | |");
Console.WriteLine($"| invoke through the gateway (`GET /api/v1/echo/echo`, manual credential decrypted per call), p50 | {Median(invokeP50):0.000} ms | |");
Console.WriteLine($"| invoke overhead over direct, p50 (each round) | {Median(overheads):0.000} ms ({Join(overheads)}) | < 2 ms |");
Console.WriteLine($"| of which the gateway hop alone (`GET /api/v1/bindings`), p50 | {Median(hopP50):0.000} ms | |");
Console.WriteLine($"| a route the gateway serves itself (`GET /api/v2/experiments`) with the admin token / with an API token (cache warm), p50 | {Median(adminRouteP50):0.000} ms / {Median(apiTokenRouteP50):0.000} ms | |");
Console.WriteLine($"| API token validation added at the gateway, p50 (each round) | {Median(validationDeltas):0.000} ms ({Join(validationDeltas)}) | < 0.1 ms |");
Console.WriteLine($"| validator cost in process, cache warm / admin token compare | {warmNs:0} ns / {adminNs:0} ns per request | |");
Console.WriteLine($"| revocation refused on a second replica, after the DELETE answered: p50 / max of 20 | {Percentile(afterResponse, 50):0.0} ms / {afterResponse.Max():0.0} ms | < 1 s |");
Console.WriteLine($"| same, from sending the DELETE: p50 / max of 20 | {Percentile(afterRequest, 50):0.0} ms / {afterRequest.Max():0.0} ms | |");
Directory.Delete(configDir, recursive: true);

static HttpClient Client(Uri baseAddress, string token)
{
    var client = new HttpClient { BaseAddress = baseAddress };
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    return client;
}

static async Task<string> CreateTokenAsync(HttpClient admin, string name)
{
    using var response = await admin.PostAsJsonAsync("/api/v1/tokens", new { name });
    response.EnsureSuccessStatusCode();
    return (await response.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
}

static async Task<List<double>> LatenciesAsync(HttpClient client, string path, int count)
{
    var latencies = new List<double>(count);
    for (var i = 0; i < count; i++)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(path);
        await response.Content.ReadAsByteArrayAsync();
        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{path} answered {(int)response.StatusCode}");
        }
    }
    return latencies;
}

// The gateway's own validators, in this process: one warm-cache validation against one admin-token compare.
static async Task<(double WarmNs, double AdminNs)> ValidatorCostAsync(Orchestrator system, string apiToken)
{
    var (_, grpcPort) = system.PortsOf("integrations");
    using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}", new GrpcChannelOptions
    {
        HttpHandler = new InternalSecretHandler(system.InternalSecret) { InnerHandler = new SocketsHttpHandler() },
    });
    var validator = new IntegrationsCredentialValidator(new IntegrationsService.IntegrationsServiceClient(channel), TimeProvider.System,
        NullLogger<IntegrationsCredentialValidator>.Instance);
    var credential = new PresentedCredential(apiToken, CredentialSource.AuthorizationHeader);
    if (await validator.ValidateAsync(credential, CancellationToken.None) is null)
    {
        throw new InvalidOperationException("the API token did not validate");
    }
    var adminValidator = new AdminTokenValidator(new GatewayOptions
    {
        AdminToken = "bench-admin-token-of-similar-length-0123456789abcdef",
        PublicUrl = "",
        GrpcUrl = "",
        WorkDir = "",
        Experiments = [],
        Services = new Dictionary<string, ServiceAddresses>(),
        ListenUrls = [],
    });
    var adminCredential = new PresentedCredential("bench-admin-token-of-similar-length-0123456789abcdef", CredentialSource.AuthorizationHeader);
    const int Iterations = 1_000_000;
    double Measure(Func<ValueTask<CallerIdentity?>> validate)
    {
        for (var i = 0; i < 10_000; i++)
        {
            validate();
        }
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Iterations; i++)
        {
            if (validate().Result is null)
            {
                throw new InvalidOperationException("validation failed");
            }
        }
        return Stopwatch.GetElapsedTime(started).TotalNanoseconds / Iterations;
    }
    return (Measure(() => validator.ValidateAsync(credential, CancellationToken.None)), Measure(() => adminValidator.ValidateAsync(adminCredential, CancellationToken.None)));
}

static double Percentile(IReadOnlyList<double> values, double percentile)
{
    var sorted = values.Order().ToList();
    return sorted[(int)Math.Clamp(Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

static string Join(IEnumerable<double> values) => string.Join(" / ", values.Select(v => v.ToString("0.000", CultureInfo.InvariantCulture)));

internal sealed class InternalSecretHandler(string secret) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.TryAddWithoutValidation("x-baton-internal", secret);
        return base.SendAsync(request, cancellationToken);
    }
}
