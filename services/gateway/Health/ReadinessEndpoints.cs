using StackExchange.Redis;

namespace Baton.Gateway.Health;

/// <summary><c>/health</c> (the gateway runs), <c>/api/health</c> (<c>"ok"</c>), <c>/ready</c> (Redis and every service healthy, revocations subscribed).</summary>
public static class ReadinessEndpoints
{
    public const string ProbeClient = "readiness-probe";

    public static IEndpointRouteBuilder MapReadiness(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/api/health", () => Results.Json("ok"));
        app.MapGet("/ready", ReadyAsync);
        return app;
    }

    private static async Task<IResult> ReadyAsync(GatewayOptions options, IHttpClientFactory clients, IServiceProvider services, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(ProbeClient);
        var checks = options.Services.Select(async s => (s.Key, Ready: await ProbeAsync(client, s.Value.Http, cancellationToken))).ToList();
        checks.Add(RedisReadyAsync(services.GetService<IConnectionMultiplexer>()));
        // Until revocations can reach this replica it must not take traffic: a revoked token could still pass.
        checks.Add(Task.FromResult(("token-revocations", services.GetRequiredService<Auth.CredentialRevocationListener>().Subscribed.IsCompletedSuccessfully)));
        var results = await Task.WhenAll(checks);
        var notReady = results.Where(r => !r.Ready).Select(r => r.Key).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        return notReady.Length == 0
            ? Results.Json(new { status = "ok" })
            : Results.Json(new { status = "not ready: " + string.Join(", ", notReady), not_ready = notReady }, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<bool> ProbeAsync(HttpClient client, string baseAddress, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetAsync(new Uri(new Uri(baseAddress), "/health"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static async Task<(string, bool)> RedisReadyAsync(IConnectionMultiplexer? redis)
    {
        if (redis is null)
        {
            return ("redis", false);
        }
        try
        {
            await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2));
            return ("redis", true);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return ("redis", false);
        }
    }
}
