using System.Globalization;
using System.Security.Cryptography;
using Baton.AppHost.EventBus;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Baton.AppHost.Hosting;

/// <summary>Baton's application model: the event bus, the four services and the gateway as Aspire resources.</summary>
public static class BatonModel
{
    public const string Gateway = "gateway";
    public static readonly IReadOnlyList<string> Backends = ["runs", "chat", "integrations", "git"];

    public static void AddBaton(this IDistributedApplicationBuilder builder, CommandLineOptions options)
    {
        Directory.CreateDirectory(options.DataDir);
        var internalSecret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        var bus = builder.AddEventBus(options);
        builder.AddBatonLifecycle(options, bus.Description);

        var backends = Backends.ToDictionary(name => name, builder.AddBatonService, StringComparer.Ordinal);
        foreach (var (name, service) in backends)
        {
            var http = LoopbackPorts.Free();
            var grpc = LoopbackPorts.Free();
            // REST on HTTP/1.1 and gRPC on its own cleartext HTTP/2 port (h2c cannot share a port with HTTP/1.1).
            service
                .WithEndpoint("http", e => Proxyless(e, "http", "127.0.0.1", http))
                .WithEndpoint("grpc", e => Proxyless(e, "http", "127.0.0.1", grpc, http2: true))
                .WithEnvironment("Kestrel__Endpoints__Http__Url", $"http://127.0.0.1:{http.ToString(CultureInfo.InvariantCulture)}")
                .WithEnvironment("Kestrel__Endpoints__Http__Protocols", "Http1")
                .WithEnvironment("Kestrel__Endpoints__Grpc__Url", $"http://127.0.0.1:{grpc.ToString(CultureInfo.InvariantCulture)}")
                .WithEnvironment("Kestrel__Endpoints__Grpc__Protocols", "Http2")
                .WithHttpHealthCheck("/health", endpointName: "http");
        }

        var gateway = builder.AddBatonService(Gateway);
        if (options.UsesTls)
        {
            // One TLS port: ALPN negotiates HTTP/2 for gRPC and HTTP/1.1 for REST, WebSocket and SSE.
            gateway
                .WithEndpoint("https", e => Proxyless(e, "https", options.Host, options.Port))
                .WithEnvironment("Kestrel__Endpoints__Https__Url", options.GatewayUrl)
                .WithEnvironment("Kestrel__Endpoints__Https__Protocols", "Http1AndHttp2")
                .WithEnvironment("Kestrel__Endpoints__Https__Certificate__Path", options.TlsCertificatePath!)
                .WithHealthCheck(builder.AddSelfSignedHealthCheck("gateway-https", $"https://127.0.0.1:{options.Port.ToString(CultureInfo.InvariantCulture)}/ready"));
            if (options.TlsKeyPath is { } key)
            {
                gateway.WithEnvironment("Kestrel__Endpoints__Https__Certificate__KeyPath", key);
            }
        }
        else
        {
            gateway
                .WithEndpoint("http", e => Proxyless(e, "http", options.Host, options.Port))
                .WithEndpoint("grpc", e => Proxyless(e, "http", options.Host, options.GrpcPort, http2: true))
                .WithEnvironment("Kestrel__Endpoints__Http__Url", options.GatewayUrl)
                .WithEnvironment("Kestrel__Endpoints__Http__Protocols", "Http1")
                .WithEnvironment("Kestrel__Endpoints__Grpc__Url", options.GrpcUrl)
                .WithEnvironment("Kestrel__Endpoints__Grpc__Protocols", "Http2")
                .WithHttpHealthCheck("/ready", endpointName: "http");
        }
        // Admin credentials reach only the process that checks them: the services would otherwise
        // inherit a BATON_TOKEN from the user's shell through DCP.
        gateway.WithEnvironment("BATON_TOKEN", options.Token ?? "").WithEnvironment("GESTALT_TOKEN", "");

        foreach (var (name, service) in backends)
        {
            service.WithEnvironment("BATON_TOKEN", "").WithEnvironment("GESTALT_TOKEN", "");
            gateway.WithReference(service).WaitFor(service);
            foreach (var (other, target) in backends)
            {
                // Every process can reach every service, as the services' own clients expect.
                if (other == name)
                {
                    service.WithEnvironment($"services__{name}__http__0", target.GetEndpoint("http"))
                        .WithEnvironment($"services__{name}__grpc__0", target.GetEndpoint("grpc"));
                }
                else
                {
                    service.WithReference(target);
                }
            }
        }

        foreach (var process in backends.Values.Append(gateway))
        {
            process
                .WithReference(bus.ConnectionString, connectionName: "redis")
                .WithEnvironment("BATON_DATA_DIR", options.DataDir)
                .WithEnvironment("BATON_WORKDIR", options.WorkDir)
                .WithEnvironment("BATON_INTERNAL_SECRET", internalSecret)
                .WithEnvironment("BATON_PUBLIC_URL", options.GatewayUrl)
                // Each service also exits when the AppHost disappears, even if DCP's own monitor does not see it.
                .WithEnvironment("BATON_PARENT_PID", Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
                .WithEnvironment("DOTNET_ENVIRONMENT", Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production")
                .WithEnvironment("ASPNETCORE_ENVIRONMENT", Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Production")
                .WithEnvironment("Logging__Console__FormatterName", "simple")
                .WithEnvironment("Logging__Console__FormatterOptions__SingleLine", "true")
                .WithEnvironment("Logging__Console__FormatterOptions__TimestampFormat", "HH:mm:ss ");
        }
        // The services start beside the event bus rather than after it: they connect in the background
        // and report it in /health, so the gateway's WaitFor on their health covers the bus too.
    }

    /// <summary>
    /// The gateway's own certificate is often self-signed, which Aspire's HTTP health check would
    /// refuse; this probe only ever talks to loopback, so it accepts any certificate.
    /// </summary>
    private static string AddSelfSignedHealthCheck(this IDistributedApplicationBuilder builder, string name, string url)
    {
        var probe = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        })
        { Timeout = TimeSpan.FromSeconds(5) };
        builder.Services.AddHealthChecks().AddAsyncCheck(name, async cancellationToken =>
        {
            try
            {
                using var response = await probe.GetAsync(url, cancellationToken);
                return response.IsSuccessStatusCode ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy($"{url}: {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return HealthCheckResult.Unhealthy($"{url}: {ex.Message}");
            }
        });
        return name;
    }

    private static void Proxyless(EndpointAnnotation endpoint, string scheme, string host, int port, bool http2 = false)
    {
        endpoint.UriScheme = scheme;
        endpoint.Transport = http2 ? "http2" : "http";
        endpoint.TargetHost = host;
        endpoint.Port = port;
        endpoint.TargetPort = port;
        endpoint.IsProxied = false;
    }
}
