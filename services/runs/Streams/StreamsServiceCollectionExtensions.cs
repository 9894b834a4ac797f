using Baton.Contracts.Git.V1;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;

namespace Baton.Runs.Streams;

public static class StreamsServiceCollectionExtensions
{
    /// <summary>The durable 000_* event log behind <see cref="IGestaltEventSink"/>, its retention, and the file and git watchers that feed it.</summary>
    public static WebApplicationBuilder AddGestaltStreams(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<GestaltEventLog>(sp,
            Path.Combine(sp.GetRequiredService<BatonOptions>().ServiceDataDir, "gestalt-events.db")));
        services.AddSingleton<IGestaltEventSink>(sp => sp.GetRequiredService<GestaltEventLog>());
        services.AddSingleton(StreamsOptions.FromConfiguration(builder.Configuration));
        services.AddHostedService<GestaltEventRetention>();
        services.AddHostedService<WorkdirWatcher>();
        services.AddBatonGrpcClient<GitRestService.GitRestServiceClient>("git");
        services.AddHostedService<RepoFileEventsRelay>();
        return builder;
    }

    public static WebApplication MapGestaltStreams(this WebApplication app)
    {
        app.MapGrpcService<GestaltStreamsApi>();
        return app;
    }
}
