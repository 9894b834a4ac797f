using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Baton.AppHost.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Baton.AppHost.EventBus;

/// <summary>
/// A Redis-protocol server (redis-server or Garnet) run as a plain process: no container runtime is
/// needed, which these machines (and many laptops) do not have.
/// </summary>
public sealed class EventBusServerResource(string name, string command, string workingDirectory, int port, string description)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public int Port { get; } = port;
    public string Description { get; } = description;
    public EndpointReference Endpoint => new(this, "tcp");
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"127.0.0.1:{Endpoint.Property(EndpointProperty.Port)}");
}

/// <summary>What the services connect to: a server the AppHost runs (and restarts), or the user's own Redis.</summary>
public sealed record EventBusChoice(IResourceBuilder<IResourceWithConnectionString> ConnectionString, IResourceBuilder<EventBusServerResource>? Server, string Description);

public static class EventBusResourceExtensions
{
    public static EventBusChoice AddEventBus(this IDistributedApplicationBuilder builder, CommandLineOptions options)
    {
        var configured = builder.Configuration.GetConnectionString("redis");
        if (options.EventBus == EventBusMode.Auto && !string.IsNullOrWhiteSpace(configured))
        {
            return new EventBusChoice(builder.AddConnectionString("redis"), null, "external Redis (ConnectionStrings__redis)");
        }

        var port = LoopbackPorts.Free();
        var portText = port.ToString(CultureInfo.InvariantCulture);
        var redisServer = OnPath("redis-server");
        EventBusServerResource resource;
        string[] arguments;
        if (options.EventBus == EventBusMode.RedisServer || (options.EventBus == EventBusMode.Auto && redisServer is not null))
        {
            resource = new EventBusServerResource("redis", redisServer ?? throw new ArgumentException("--redis redis-server: redis-server is not on the PATH"),
                options.DataDir, port, $"redis-server on 127.0.0.1:{portText}");
            arguments = ["--port", portText, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        }
        else
        {
            var repositoryRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
            resource = new EventBusServerResource("garnet", "dotnet", repositoryRoot, port, $"Garnet on 127.0.0.1:{portText}");
            arguments = ["tool", "run", "garnet-server", "--", "--port", portText, "--bind", "127.0.0.1"];
            builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, (_, cancellationToken) => GarnetTool.RestoreAsync(repositoryRoot, cancellationToken));
        }

        var healthCheck = $"{resource.Name}-ping";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, async cancellationToken =>
            await PingAsync(port, cancellationToken) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy($"no PONG on 127.0.0.1:{portText}"));
        var server = builder.AddResource(resource)
            .WithArgs(arguments)
            .WithEndpoint("tcp", e =>
            {
                e.UriScheme = "tcp";
                e.TargetHost = "127.0.0.1";
                e.Port = port;
                e.TargetPort = port;
                e.IsProxied = false;
            })
            .WithHealthCheck(healthCheck)
            .WithIconName("Database");
        builder.Services.AddSingleton(resource);
        builder.Services.AddHostedService<EventBusSupervisor>();
        return new EventBusChoice(server.Select(), server, resource.Description);
    }

    private static IResourceBuilder<IResourceWithConnectionString> Select(this IResourceBuilder<EventBusServerResource> server) =>
        server.ApplicationBuilder.CreateResourceBuilder<IResourceWithConnectionString>(server.Resource);

    public static async Task<bool> PingAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    public static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}

internal static class GarnetTool
{
    private static volatile bool _restored;

    /// <summary>`dotnet tool restore` once, so a fresh clone's first start finds garnet-server from the tool manifest.</summary>
    public static async Task RestoreAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        if (_restored)
        {
            return;
        }
        using var restore = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", "tool restore")
        {
            WorkingDirectory = repositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var error = restore.StandardError.ReadToEndAsync(cancellationToken);
        await restore.StandardOutput.ReadToEndAsync(cancellationToken);
        await restore.WaitForExitAsync(cancellationToken);
        if (restore.ExitCode != 0)
        {
            throw new InvalidOperationException($"'dotnet tool restore' failed, so Garnet cannot start: {await error}");
        }
        _restored = true;
    }
}
