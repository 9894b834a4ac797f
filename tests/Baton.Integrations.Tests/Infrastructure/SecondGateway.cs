using System.Collections.Concurrent;
using System.Globalization;
using Baton.AppHost.Orchestration;
using Baton.Testing;

namespace Baton.Integrations.Tests.Infrastructure;

/// <summary>
/// Another gateway replica in front of the same services and Redis, as a second pod would be:
/// its own process, its own token cache, told about revocations only by the event bus.
/// </summary>
public sealed class SecondGateway : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private SecondGateway(ManagedProcess process, Uri url, ConcurrentQueue<string> output)
    {
        _process = process;
        Url = url;
        Output = output;
    }

    public Uri Url { get; }
    public ConcurrentQueue<string> Output { get; }

    public static async Task<SecondGateway> StartAsync(BatonSystem system)
    {
        var orchestrator = system.Orchestrator;
        var http = Ports.Free();
        var grpc = Ports.Free();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ConnectionStrings__redis"] = orchestrator.RedisConnectionString,
            ["BATON_DATA_DIR"] = system.DataDir,
            ["BATON_WORKDIR"] = system.WorkDir,
            ["BATON_INTERNAL_SECRET"] = orchestrator.InternalSecret,
            ["BATON_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["BATON_PUBLIC_URL"] = $"http://127.0.0.1:{http}",
            ["BATON_TOKEN"] = system.Token,
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{http}",
            ["Kestrel__Endpoints__Http__Protocols"] = "Http1",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpc}",
            ["Kestrel__Endpoints__Grpc__Protocols"] = "Http2",
        };
        foreach (var backend in ServiceCatalog.Backends)
        {
            var ports = orchestrator.PortsOf(backend);
            environment[$"services__{backend}__http__0"] = $"http://127.0.0.1:{ports.Http}";
            environment[$"services__{backend}__grpc__0"] = $"http://127.0.0.1:{ports.Grpc}";
        }
        var output = new ConcurrentQueue<string>();
        var assembly = ServiceCatalog.AssemblyPath(ServiceCatalog.Gateway);
        var process = ManagedProcess.Start("gateway-2", "dotnet", [assembly], Path.GetDirectoryName(assembly)!, environment, useColor: false,
            (_, line) => output.Enqueue(line));
        var url = new Uri($"http://127.0.0.1:{http}");
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.WaitAsync(async () =>
        {
            try
            {
                using var response = await probe.GetAsync(new Uri(url, "/ready"));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "second gateway ready");
        return new SecondGateway(process, url, output);
    }

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();
}
