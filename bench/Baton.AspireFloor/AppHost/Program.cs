using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Configuration;

// dotnet Baton.AspireFloor.AppHost.dll --port <gateway port>: Baton's Aspire model with empty services,
// so the gateway bench can start both side by side and tell Aspire's own start-up from Baton's.
var gatewayPort = int.Parse(args[Array.IndexOf(args, "--port") + 1], CultureInfo.InvariantCulture);
var service = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "EmptyServicePath").Value!;

var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
{
    Args = args,
    DashboardApplicationName = "Floor",
    AllowUnsecuredTransport = true,
});
// What Baton's Dashboard.Configure sets: the dashboard, its OTLP endpoint and the resource service on loopback.
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort()}",
    ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{FreePort()}",
    ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://127.0.0.1:{FreePort()}",
    ["Logging:LogLevel:Aspire.Hosting.DistributedApplication"] = "Warning",
});

var busPort = FreePort();
builder.AddExecutable("redis", "redis-server", Path.GetTempPath(), "--port", busPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");

IResourceBuilder<ExecutableResource> Service(string name, int port) =>
    builder.AddExecutable(name, "dotnet", Path.GetDirectoryName(service)!, service)
        .WithEndpoint("http", e =>
        {
            e.UriScheme = "http";
            e.TargetHost = "127.0.0.1";
            e.Port = port;
            e.TargetPort = port;
            e.IsProxied = false;
        })
        .WithEnvironment("ASPNETCORE_URLS", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}")
        .WithOtlpExporter()
        .WithHttpHealthCheck("/health", endpointName: "http");

var gateway = Service("gateway", gatewayPort);
foreach (var name in new[] { "runs", "chat", "integrations", "git" })
{
    gateway.WaitFor(Service(name, FreePort()));
}
await builder.Build().RunAsync();

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
