using Baton.Contracts.Chat.V1;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Integrations.V1;
using Baton.Contracts.Runs.V1;
using Baton.Gateway.Auth;
using Baton.Gateway.Deployment;
using Baton.Gateway.Health;
using Baton.Gateway.Logs;
using Baton.Gateway.Proxy;
using Baton.Gateway.Status;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Microsoft.AspNetCore.DataProtection;

namespace Baton.Gateway;

public static class GatewayServiceCollectionExtensions
{
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var options = GatewayOptions.FromConfiguration(builder.Configuration);
        options.EnsureSafeToServe();
        var services = builder.Services;
        // Kestrel's dedicated I/O threads are one more hand-off per read and write; on a small
        // machine shared with the services, running that work on the thread pool measured faster.
        builder.WebHost.UseSockets(sockets => sockets.IOQueueCount = 0);
        services.AddSingleton(options);
        services.AddSingleton(StreamingOptions.FromConfiguration(builder.Configuration));

        services.AddSingleton<ICredentialValidator, AdminTokenValidator>();
        services.AddSingleton<IntegrationsCredentialValidator>();
        services.AddSingleton<ICredentialValidator>(sp => sp.GetRequiredService<IntegrationsCredentialValidator>());
        services.AddSingleton<CredentialRevocationListener>();
        services.AddHostedService(sp => sp.GetRequiredService<CredentialRevocationListener>());

        services.AddGrpc().AddJsonTranscoding();
        services.AddBatonGrpcClient<RunsService.RunsServiceClient>("runs");
        services.AddBatonGrpcClient<SessionsService.SessionsServiceClient>("runs");
        services.AddBatonGrpcClient<GestaltStreams.GestaltStreamsClient>("runs");
        services.AddBatonGrpcClient<ChatService.ChatServiceClient>("chat");
        services.AddBatonGrpcClient<IntegrationsService.IntegrationsServiceClient>("integrations");
        services.AddBatonGrpcClient<GitService.GitServiceClient>("git");
        services.AddBatonGrpcClient<GitRestService.GitRestServiceClient>("git");
        services.AddHttpClient(ReadinessEndpoints.ProbeClient, c => c.Timeout = TimeSpan.FromSeconds(2));

        services.AddSingleton<ServiceDirectory>();
        services.AddSingleton<RequestMetrics>();
        services.AddSingleton<WorkdirGitInfo>();
        services.AddSingleton<DeploymentIdentity>();
        services.AddSingleton<DeploymentConfigDocument>();
        services.AddSingleton<LogHub>();
        services.AddHostedService(sp => sp.GetRequiredService<LogHub>());

        var batonOptions = BatonOptions.FromConfiguration(builder.Configuration, "gateway");
        // YARP enables DataProtection; keep its keys in Baton's data folder, not ~/.aspnet.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(batonOptions.ServiceDataDir, "keys")));
        services.AddReverseProxy()
            .LoadFromMemory(ProxyConfiguration.Routes(), ProxyConfiguration.Clusters(options))
            .AddTransforms(context => ProxyConfiguration.AddTransforms(context, batonOptions));
        return builder;
    }

    /// <summary>Records every request's route, status and latency for /api/metrics/summary.</summary>
    public static IApplicationBuilder UseRequestMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<RequestMetrics>();
        return app.Use(async (context, next) =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                metrics.Record(context.Request.Path.Value ?? "/", context.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            }
        });
    }
}
