using Baton.Chat.Agent;
using Baton.Chat.Api;
using Baton.Chat.Permissions;
using Baton.Chat.Profiles;
using Baton.Chat.Sandbox;
using Baton.Chat.Tools;
using Baton.Chat.Storage;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Validation;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Baton.Chat;

public static class ChatServiceCollectionExtensions
{
    public static WebApplicationBuilder AddChatService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(sp => ChatOptions.FromConfiguration(builder.Configuration, sp.GetRequiredService<BatonOptions>()));
        services.AddSingleton<ChatStore>();
        services.AddSingleton<SecretBox>();
        services.AddSingleton<ProfileService>();
        services.AddSingleton<ChatClientFactory>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ChatEvents>();
        services.AddSingleton<ChatSessions>();
        services.AddSingleton<AgentLoop>();
        services.AddSingleton<Compactor>();
        services.AddSingleton<TokenEstimator>();
        services.AddSingleton<CommandRunner>();
        services.AddSingleton<ToolRegistry>();
        services.AddSingleton<PermissionStore>();
        services.AddSingleton<SandboxConfigStore>();
        services.AddHostedService<InterruptedTurns>();
        services.AddBatonGrpc();
        return builder;
    }

    public static WebApplication MapChatService(this WebApplication app)
    {
        app.MapGrpcService<ChatApi>();
        return app;
    }
}
