using Baton.Runs.Sessions;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Runs.Telemetry;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>The OpenTelemetry store, the OTLP receiver and <c>/api/otel/*</c>, and agent CLIs' telemetry environment.</summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(TelemetryOptions.FromConfiguration(builder.Configuration));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TelemetryStore>(sp,
            Path.Combine(sp.GetRequiredService<BatonOptions>().ServiceDataDir, "otel.db")));
        services.AddSingleton<AgentTelemetry>();
        services.AddSingleton<IAgentEnvironmentContributor>(sp => sp.GetRequiredService<AgentTelemetry>());
        return builder;
    }

    public static WebApplication MapTelemetry(this WebApplication app)
    {
        app.MapGrpcService<TelemetryApi>();
        return app;
    }
}
