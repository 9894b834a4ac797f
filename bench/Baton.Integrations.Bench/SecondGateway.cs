using System.Globalization;
using Baton.AppHost.Orchestration;

/// <summary>A second gateway process in front of the same services and Redis, as another replica would be.</summary>
internal sealed class SecondGateway : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private SecondGateway(ManagedProcess process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    public static async Task<SecondGateway> StartAsync(Orchestrator system, string token)
    {
        var http = Ports.Free();
        var dataDir = Directory.CreateTempSubdirectory("baton-bench-gateway-").FullName;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ConnectionStrings__redis"] = system.RedisConnectionString,
            ["BATON_DATA_DIR"] = dataDir,
            ["BATON_INTERNAL_SECRET"] = system.InternalSecret,
            ["BATON_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["BATON_TOKEN"] = token,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{http}",
            ["Kestrel__Endpoints__Http__Protocols"] = "Http1",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{Ports.Free()}",
            ["Kestrel__Endpoints__Grpc__Protocols"] = "Http2",
        };
        foreach (var backend in ServiceCatalog.Backends)
        {
            var ports = system.PortsOf(backend);
            environment[$"services__{backend}__http__0"] = $"http://127.0.0.1:{ports.Http}";
            environment[$"services__{backend}__grpc__0"] = $"http://127.0.0.1:{ports.Grpc}";
        }
        var assembly = ServiceCatalog.AssemblyPath(ServiceCatalog.Gateway);
        var process = ManagedProcess.Start("gateway-2", "dotnet", [assembly], Path.GetDirectoryName(assembly)!, environment, useColor: false, (_, _) => { });
        var url = new Uri($"http://127.0.0.1:{http}");
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await probe.GetAsync(new Uri(url, "/ready"));
                if (response.IsSuccessStatusCode)
                {
                    return new SecondGateway(process, url);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the second gateway did not become ready");
            }
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();
}
