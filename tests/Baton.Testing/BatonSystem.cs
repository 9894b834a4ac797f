using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Baton.AppHost.Orchestration;
using Grpc.Net.Client;

namespace Baton.Testing;

public sealed class BatonLaunchOptions
{
    /// <summary>Extra environment for every process (service settings under test).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);
    public string? WorkDir { get; set; }
    /// <summary>The admin token; a random one by default. Set <see cref="AuthDisabled"/> to run without one.</summary>
    public string? Token { get; set; }
    public bool AuthDisabled { get; set; }
}

/// <summary>
/// The whole Baton system on free loopback ports with its own Redis (redis-server, or Garnet when
/// <c>BATON_TEST_REDIS=garnet</c>) and a temporary data folder, for tests through the gateway.
/// </summary>
public sealed class BatonSystem : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();

    private BatonSystem(Orchestrator orchestrator, string token, string dataDir, string workDir)
    {
        Orchestrator = orchestrator;
        Token = token;
        DataDir = dataDir;
        WorkDir = workDir;
    }

    public Orchestrator Orchestrator { get; }
    public string Token { get; }
    public string DataDir { get; }
    public string WorkDir { get; }
    public Uri GatewayUrl => new(Orchestrator.GatewayUrl);
    public Uri GrpcUrl => new(Orchestrator.GrpcUrl);
    public string Output => string.Join('\n', _output);

    public static RedisMode TestRedisMode =>
        string.Equals(System.Environment.GetEnvironmentVariable("BATON_TEST_REDIS"), "garnet", StringComparison.OrdinalIgnoreCase)
            ? RedisMode.Garnet
            : RedisProvisioner.OnPath("redis-server") is null ? RedisMode.Garnet : RedisMode.RedisServer;

    public static async Task<BatonSystem> StartAsync(BatonLaunchOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new BatonLaunchOptions();
        var dataDir = TestEnvironment.NewDirectory("baton-test");
        var token = options.AuthDisabled ? "" : options.Token ?? "test-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var workDir = options.WorkDir ?? dataDir;
        var output = new ConcurrentQueue<string>();
        var launch = new LaunchOptions
        {
            Port = Ports.Free(),
            GrpcPort = Ports.Free(),
            DataDir = dataDir,
            WorkDir = workDir,
            Token = options.AuthDisabled ? null : token,
            RedisMode = TestRedisMode,
            UseColor = false,
            OnOutput = (_, line) =>
            {
                output.Enqueue(line);
                while (output.Count > 5000 && output.TryDequeue(out string? _))
                {
                }
            },
        };
        foreach (var (key, value) in options.Environment)
        {
            launch.Environment[key] = value;
        }
        Orchestrator orchestrator;
        try
        {
            orchestrator = await Orchestrator.StartAsync(launch, cancellationToken);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"Baton did not start: {ex.Message}\n{string.Join('\n', output.TakeLast(80))}", ex);
        }
        var system = new BatonSystem(orchestrator, token, dataDir, workDir);
        foreach (var line in output)
        {
            system._output.Enqueue(line);
        }
        launch.OnOutput = (_, line) =>
        {
            system._output.Enqueue(line);
            while (system._output.Count > 5000 && system._output.TryDequeue(out string? _))
            {
            }
        };
        return system;
    }

    /// <summary>An HttpClient for the gateway's REST port, carrying the admin token unless <paramref name="authenticated"/> is false.</summary>
    public HttpClient CreateClient(bool authenticated = true)
    {
        var client = new HttpClient { BaseAddress = GatewayUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (authenticated && Token.Length > 0)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }
        return client;
    }

    /// <summary>A gRPC channel to the gateway's HTTP/2 port, carrying the admin token unless <paramref name="authenticated"/> is false.</summary>
    public GrpcChannel CreateGrpcChannel(bool authenticated = true)
    {
        HttpMessageHandler handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (authenticated && Token.Length > 0)
        {
            handler = new BearerHandler(Token) { InnerHandler = handler };
        }
        return GrpcChannel.ForAddress(GrpcUrl, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    public Task StopServiceAsync(string service) => Orchestrator.StopServiceAsync(service);
    public Task StartServiceAsync(string service) => Orchestrator.StartServiceAsync(service);
    public Task StopRedisAsync() => Orchestrator.StopRedisAsync();
    public Task StartRedisAsync() => Orchestrator.StartRedisAsync();

    public async ValueTask DisposeAsync()
    {
        await Orchestrator.DisposeAsync();
        TestEnvironment.DeleteQuietly(DataDir);
    }

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
