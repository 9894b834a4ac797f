using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Logging;
using Baton.ServiceDefaults.Security;
using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using StackExchange.Redis;

namespace Baton.ServiceDefaults.Hosting;

public static class ServiceDefaultsExtensions
{
    private const string LiveTag = "live";

    /// <summary>Health, telemetry, discovery, Redis and the event bus, log forwarding, and shutdown with the launcher.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, string serviceName) where TBuilder : IHostApplicationBuilder
    {
        _ = BuildInfo.StartedAt;
        var options = BatonOptions.FromConfiguration(builder.Configuration, serviceName);
        Directory.CreateDirectory(options.ServiceDataDir);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);

        builder.ConfigureOpenTelemetry(serviceName);
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http => http.AddServiceDiscovery());
        builder.Services.AddProblemDetails();
        builder.Services.AddTransient<InternalSecretHandler>();

        builder.AddEventBus();
        var forwarder = new LogForwardingProvider(serviceName);
        builder.Logging.AddProvider(forwarder);
        builder.Logging.AddConsole(console => console.FormatterName = CappedConsoleFormatter.FormatterName)
            .AddConsoleFormatter<CappedConsoleFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
        builder.Services.AddSingleton(forwarder);
        builder.Services.AddHostedService<LogForwardingService>();
        builder.Services.AddHostedService<ParentProcessWatcher>();
        return builder;
    }

    /// <summary>Redis when <c>ConnectionStrings__redis</c> is set; otherwise the in-process bus (a single process needs no broker).</summary>
    public static TBuilder AddEventBus<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var connectionString = builder.Configuration.GetConnectionString("redis");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            builder.Services.AddSingleton<IEventBus, InMemoryEventBus>();
            return builder;
        }

        var serviceName = builder.Environment.ApplicationName;
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ =>
        {
            var configuration = ConfigurationOptions.Parse(connectionString);
            // Start and keep running while Redis is down; the multiplexer reconnects in the background.
            configuration.AbortOnConnectFail = false;
            configuration.ClientName ??= serviceName;
            configuration.ConnectTimeout = 2000;
            configuration.ReconnectRetryPolicy = new LinearRetry(250);
            return ConnectionMultiplexer.Connect(configuration);
        });
        builder.Services.AddSingleton<IEventBus, RedisEventBus>();
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        return builder;
    }

    private static void ConfigureOpenTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        // Logs, traces and metrics cost per request; they are collected only when someone receives them.
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return;
        }
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? serviceName))
            .WithMetrics(metrics => metrics.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddRuntimeInstrumentation())
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation())
            .UseOtlpExporter();
    }

    /// <summary>
    /// A client for another Baton service's gRPC endpoint, found by service discovery
    /// (<c>services__{name}__grpc__0</c>). It carries the internal secret and retries unary calls
    /// that failed with Unavailable; streaming calls are not wrapped in HTTP resilience handlers.
    /// </summary>
    public static IHttpClientBuilder AddBatonGrpcClient<TClient>(this IServiceCollection services, string serviceName) where TClient : ClientBase
    {
        return services
            .AddGrpcClient<TClient>(o => o.Address = new Uri($"http://_grpc.{serviceName}"))
            .ConfigureChannel(channel =>
            {
                channel.ServiceConfig = new ServiceConfig
                {
                    MethodConfigs =
                    {
                        new MethodConfig
                        {
                            Names = { MethodName.Default },
                            RetryPolicy = new RetryPolicy
                            {
                                MaxAttempts = 3,
                                InitialBackoff = TimeSpan.FromMilliseconds(100),
                                MaxBackoff = TimeSpan.FromSeconds(1),
                                BackoffMultiplier = 2,
                                RetryableStatusCodes = { Grpc.Core.StatusCode.Unavailable },
                            },
                        },
                    },
                };
            })
            .AddHttpMessageHandler<InternalSecretHandler>();
    }

    /// <summary>The internal caller check: service ports are not a way around the gateway's auth.</summary>
    public static IApplicationBuilder UseInternalCallerCheck(this IApplicationBuilder app) => app.UseMiddleware<InternalCallerMiddleware>();

    /// <summary><c>/health</c> (ready: every check) and <c>/alive</c> (process liveness), plus gRPC health.</summary>
    public static IEndpointRouteBuilder MapDefaultEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health");
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        return app;
    }
}

internal sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"ping {latency.TotalMilliseconds:0.0} ms");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("redis unreachable", ex);
        }
    }
}

/// <summary>Exits when the launcher that started this process is gone, so a killed launcher leaves no orphans.</summary>
internal sealed class ParentProcessWatcher(IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(configuration[BatonOptions.ParentPidKey], out var parentPid))
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!IsAlive(parentPid))
            {
                logger.LogWarning("Launcher process {Pid} is gone; shutting down", parentPid);
                lifetime.StopApplication();
                return;
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
