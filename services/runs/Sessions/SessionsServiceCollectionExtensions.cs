using Baton.Runs.Catalog;

namespace Baton.Runs.Sessions;

public static class SessionsServiceCollectionExtensions
{
    /// <summary>The config directory (watcher, agent profiles, skills, plans) and agent sessions with both runners.</summary>
    public static WebApplicationBuilder AddSessions(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<ConfigWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<ConfigWatcher>());
        services.AddSingleton<ConfigCatalog>();
        services.AddHostedService(sp => sp.GetRequiredService<ConfigCatalog>());

        var configuration = SessionsConfiguration.FromConfiguration(builder.Configuration);
        services.AddSingleton(configuration);
        services.AddSingleton(sp => new Tmux(sp.GetRequiredService<ILogger<Tmux>>()) { Executable = configuration.TmuxCommand });
        services.AddSingleton<SessionManager>();
        services.AddSingleton<ISessionControl>(sp => sp.GetRequiredService<SessionManager>());
        services.AddHostedService(sp => sp.GetRequiredService<SessionManager>());
        return builder;
    }

    public static WebApplication MapSessions(this WebApplication app)
    {
        app.MapGrpcService<SessionsApi>();
        app.MapGrpcService<CatalogApi>();
        return app;
    }
}
