using System.Globalization;
using System.Security.Cryptography;

// The namespace is the one this launcher had when it was the AppHost, so test code written against
// it (Ports.Free, Orchestrator.PortsOf, TestRedis) keeps compiling.
namespace Baton.AppHost.Orchestration;

/// <summary>
/// The test harness's lean launcher: starts Redis, the four services and the gateway in order with
/// the environment the Aspire AppHost gives them (Aspire.AppHost/Hosting/BatonModel.cs), waits for
/// each to be healthy, and stops them all on dispose. It boots in about a second where DCP and the
/// dashboard take several, which matters for dozens of system tests; the AppHost itself is tested
/// through Aspire.Hosting.Testing.
/// </summary>
public sealed class Orchestrator : IAsyncDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly LaunchOptions _options;
    private readonly Dictionary<string, ManagedProcess> _processes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int Http, int Grpc)> _ports = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> _environments = new(StringComparer.Ordinal);
    private readonly HttpClient _probe = new(new HttpClientHandler
    {
        // The gateway's own certificate may be self-signed; the probe only ever talks to loopback.
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
    })
    { Timeout = TimeSpan.FromSeconds(2) };
    private RedisProvisioner.Provisioned? _redis;

    private Orchestrator(LaunchOptions options)
    {
        _options = options;
        InternalSecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
    }

    public string InternalSecret { get; }
    public string GatewayUrl => _options.UsesTls ? $"https://{_options.Host}:{_options.Port}" : $"http://{_options.Host}:{_options.Port}";
    public string GrpcUrl => _options.UsesTls ? GatewayUrl : $"http://{_options.Host}:{_options.GrpcPort}";
    public string RedisConnectionString => _redis?.ConnectionString ?? "";
    public string RedisDescription => _redis?.Description ?? "";
    public IReadOnlyDictionary<string, ManagedProcess> Processes => _processes;
    public (int Http, int Grpc) PortsOf(string service) => _ports[service];

    /// <summary>A child exited without being asked to. Nothing is restarted.</summary>
    public event Action<string, int>? Crashed;

    public static async Task<Orchestrator> StartAsync(LaunchOptions options, CancellationToken cancellationToken = default)
    {
        Ports.EnsureAvailable(options.Host, options.Port, "--port");
        if (!options.UsesTls)
        {
            Ports.EnsureAvailable(options.Host, options.GrpcPort, "--grpc-port");
        }
        Directory.CreateDirectory(options.DataDir);
        var orchestrator = new Orchestrator(options);
        try
        {
            await orchestrator.StartAllAsync(cancellationToken);
            return orchestrator;
        }
        catch
        {
            await orchestrator.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(CancellationToken cancellationToken)
    {
        _redis = await RedisProvisioner.ProvisionAsync(_options, Output, cancellationToken);
        if (_redis.Process is { } redis)
        {
            Track("redis", redis);
        }
        foreach (var service in ServiceCatalog.Backends)
        {
            _ports[service] = (Ports.Free(), Ports.Free());
        }
        foreach (var service in ServiceCatalog.Backends)
        {
            _environments[service] = BackendEnvironment(service);
        }
        _environments[ServiceCatalog.Gateway] = GatewayEnvironment();

        await Task.WhenAll(ServiceCatalog.Backends.Select(s => StartServiceAsync(s, cancellationToken)));
        await StartServiceAsync(ServiceCatalog.Gateway, cancellationToken);
    }

    /// <summary>Starts (or restarts after <see cref="StopServiceAsync"/>) one service with its original ports and environment.</summary>
    public async Task StartServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        if (_processes.TryGetValue(service, out var running) && !running.HasExited)
        {
            return;
        }
        var assembly = ServiceCatalog.AssemblyPath(service);
        // The app folder is the content root, so each service finds its appsettings.json.
        var process = ManagedProcess.Start(service, "dotnet", [assembly], Path.GetDirectoryName(assembly)!,
            _environments[service], _options.UseColor, Output);
        Track(service, process);
        var health = service == ServiceCatalog.Gateway ? $"{GatewayUrl}/health" : $"http://127.0.0.1:{_ports[service].Http}/health";
        await WaitHealthyAsync(service, process, health, cancellationToken);
    }

    /// <summary>Marks every child's exit as expected; called from the launcher's signal handler.</summary>
    public void BeginShutdown()
    {
        foreach (var process in _processes.Values)
        {
            process.ExpectExit();
        }
    }

    public async Task StopServiceAsync(string service)
    {
        if (_processes.TryGetValue(service, out var process))
        {
            await process.StopAsync(StopGrace);
        }
    }

    /// <summary>Stops the Redis server Baton started (tests use this to show the bus survives a restart).</summary>
    public Task StopRedisAsync() => StopServiceAsync("redis");

    public async Task StartRedisAsync(CancellationToken cancellationToken = default)
    {
        if (_redis?.Process is null)
        {
            throw new InvalidOperationException("Redis is external; the launcher cannot restart it");
        }
        var port = int.Parse(_redis.ConnectionString.Split(':')[1], CultureInfo.InvariantCulture);
        var useGarnet = _redis.Description.StartsWith("Garnet", StringComparison.Ordinal);
        var process = useGarnet
            ? ManagedProcess.Start("garnet", "dotnet", ["tool", "run", "garnet-server", "--", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1"],
                ServiceCatalog.RepositoryRoot, new Dictionary<string, string>(), _options.UseColor, Output)
            : ManagedProcess.Start("redis", RedisProvisioner.OnPath("redis-server")!, ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                _options.DataDir, new Dictionary<string, string>(), _options.UseColor, Output);
        _redis = _redis with { Process = process };
        Track("redis", process);
        while (!await RedisProvisioner.PingAsync(port, cancellationToken))
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    private void Track(string name, ManagedProcess process)
    {
        _processes[name] = process;
        process.Crashed += (p, code) =>
        {
            Output(p.Name, $"\u001b[1;31m{p.Name} exited unexpectedly with code {code}; it is NOT restarted\u001b[0m");
            Crashed?.Invoke(p.Name, code);
        };
    }

    private async Task WaitHealthyAsync(string service, ManagedProcess process, string url, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new LaunchException($"{service} exited with code {await process.Exited} while starting; see its output above");
            }
            try
            {
                using var response = await _probe.GetAsync(url, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new LaunchException($"{service} was not healthy at {url} within {_options.StartTimeout.TotalSeconds:0} s");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    private Dictionary<string, string> CommonEnvironment(string service)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ConnectionStrings__redis"] = RedisConnectionString,
            ["BATON_DATA_DIR"] = _options.DataDir,
            ["BATON_WORKDIR"] = _options.WorkDir,
            ["BATON_INTERNAL_SECRET"] = InternalSecret,
            ["BATON_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["BATON_PUBLIC_URL"] = GatewayUrl,
            ["OTEL_SERVICE_NAME"] = service,
            ["DOTNET_ENVIRONMENT"] = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production",
            ["ASPNETCORE_ENVIRONMENT"] = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Production",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss ",
        };
        foreach (var backend in ServiceCatalog.Backends)
        {
            if (_ports.TryGetValue(backend, out var ports))
            {
                environment[$"services__{backend}__http__0"] = $"http://127.0.0.1:{ports.Http}";
                environment[$"services__{backend}__grpc__0"] = $"http://127.0.0.1:{ports.Grpc}";
            }
        }
        foreach (var (key, value) in _options.Environment)
        {
            environment[key] = value;
        }
        return environment;
    }

    private Dictionary<string, string> BackendEnvironment(string service)
    {
        var environment = CommonEnvironment(service);
        var (http, grpc) = _ports[service];
        environment["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{http}";
        environment["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpc}";
        environment["Kestrel__Endpoints__Grpc__Protocols"] = "Http2";
        return environment;
    }

    private Dictionary<string, string> GatewayEnvironment()
    {
        var environment = CommonEnvironment(ServiceCatalog.Gateway);
        if (_options.Token is { Length: > 0 } token)
        {
            environment["BATON_TOKEN"] = token;
        }
        if (_options.UsesTls)
        {
            // One TLS port: ALPN negotiates HTTP/2 for gRPC and HTTP/1.1 for REST, WebSocket and SSE.
            environment["Kestrel__Endpoints__Https__Url"] = GatewayUrl;
            environment["Kestrel__Endpoints__Https__Protocols"] = "Http1AndHttp2";
            environment["Kestrel__Endpoints__Https__Certificate__Path"] = _options.TlsCertificatePath!;
            if (_options.TlsKeyPath is { } key)
            {
                environment["Kestrel__Endpoints__Https__Certificate__KeyPath"] = key;
            }
        }
        else
        {
            environment["Kestrel__Endpoints__Http__Url"] = GatewayUrl;
            environment["Kestrel__Endpoints__Http__Protocols"] = "Http1";
            environment["Kestrel__Endpoints__Grpc__Url"] = GrpcUrl;
            environment["Kestrel__Endpoints__Grpc__Protocols"] = "Http2";
        }
        return environment;
    }

    private void Output(string name, string line) => _options.OnOutput?.Invoke(name, line);

    public async ValueTask DisposeAsync()
    {
        if (_processes.TryGetValue(ServiceCatalog.Gateway, out var gateway))
        {
            await gateway.DisposeAsync();
        }
        await Task.WhenAll(_processes.Where(p => p.Key is not ServiceCatalog.Gateway and not "redis").Select(p => p.Value.DisposeAsync().AsTask()));
        if (_processes.TryGetValue("redis", out var redis))
        {
            await redis.DisposeAsync();
        }
        _probe.Dispose();
    }
}
