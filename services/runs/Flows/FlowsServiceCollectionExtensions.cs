namespace Baton.Runs.Flows;

public static class FlowsServiceCollectionExtensions
{
    /// <summary>Flow configuration on disk, the engine (also the <see cref="IFlowDispatcher"/>) and its activities.</summary>
    public static WebApplicationBuilder AddFlows(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(FlowOptions.FromConfiguration(builder.Configuration));
        services.AddSingleton<FlowStore>();
        services.AddHostedService(sp => sp.GetRequiredService<FlowStore>());
        // Redirects are not followed: a webhook answers for its own URL.
        services.AddHttpClient(FlowActivityRunner.WebhookClient, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
        services.AddSingleton<FlowActivityRunner>();
        services.AddSingleton<FlowEngine>();
        services.AddSingleton<IFlowDispatcher>(sp => sp.GetRequiredService<FlowEngine>());
        services.AddHostedService(sp => sp.GetRequiredService<FlowEngine>());
        return builder;
    }

    public static WebApplication MapFlows(this WebApplication app)
    {
        app.MapGrpcService<FlowsApi>();
        return app;
    }
}
