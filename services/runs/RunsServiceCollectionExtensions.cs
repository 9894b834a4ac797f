using Baton.Contracts.Git.V1;
using Baton.Runs.Adapters;
using Baton.Runs.Events;
using Baton.Runs.Execution;
using Baton.Runs.Notifications;
using Baton.Runs.Settings;
using Baton.Runs.Storage;
using Baton.Runs.Terminals;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

namespace Baton.Runs;

public static class RunsServiceCollectionExtensions
{
    /// <summary>Storage, the event log, the git client, CLI adapters, the run manager, settings and notifications.</summary>
    public static WebApplicationBuilder AddRuns(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddBatonGrpc();
        services.AddSingleton(RunsConfiguration.FromConfiguration(builder.Configuration));
        services.AddSingleton(sp => new RunsStore(Path.Combine(sp.GetRequiredService<BatonOptions>().ServiceDataDir, "runs.db")));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<RunEventLog>(sp,
            Path.Combine(sp.GetRequiredService<BatonOptions>().ServiceDataDir, "events.db")));
        services.AddBatonGrpcClient<GitService.GitServiceClient>("git");

        services.AddSingleton<ICliAdapter, ClaudeCodeAdapter>();
        services.AddSingleton<ICliAdapter, CodexAdapter>();
        services.AddSingleton<ICliAdapter, CustomAdapter>();
        services.AddSingleton<CliAdapters>();
        if (builder.Configuration["BATON_AGENT_PTY"] is "0" or "false")
        {
            services.AddSingleton<IAgentProcessLauncher, PipeProcessLauncher>();
        }
        else
        {
            services.AddSingleton<IAgentProcessLauncher, PtyProcessLauncher>();
        }

        services.AddSingleton<SettingsStore>();
        services.AddHttpClient(DiscordNotifier.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<DiscordNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<DiscordNotifier>());

        services.AddSingleton<TerminalHub>();
        services.AddSingleton<TerminalService>();
        services.AddSingleton<RunManager>();
        services.AddHostedService(sp => sp.GetRequiredService<RunManager>());
        return builder;
    }
}
