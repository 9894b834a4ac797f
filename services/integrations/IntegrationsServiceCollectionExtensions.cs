using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;
using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Connections;
using Baton.Integrations.Invocation;
using Baton.Integrations.Mcp;
using Baton.Integrations.Platform;
using Baton.Integrations.Security;
using Baton.Integrations.Storage;
using Baton.Integrations.Tokens;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Storage;
using Baton.ServiceDefaults.Validation;

namespace Baton.Integrations;

public static class IntegrationsServiceCollectionExtensions
{
    /// <summary>integrations.yaml (a broken file stops startup here), storage, the connection and token services, MCP.</summary>
    public static WebApplicationBuilder AddIntegrations(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var options = BatonOptions.FromConfiguration(builder.Configuration, "integrations");
        var configuration = builder.Configuration;
        var loader = new ConfigLoader(name => configuration[name] ?? Environment.GetEnvironmentVariable(name), new HttpClient { Timeout = TimeSpan.FromSeconds(30) });
        var defaultBaseUrl = SettingsProvider.DefaultBaseUrl(configuration);
        var settings = loader.LoadAsync(SettingsProvider.ConfigPath(configuration, options), defaultBaseUrl, CancellationToken.None).GetAwaiter().GetResult();

        services.AddSingleton(sp => new SettingsProvider(settings, loader, defaultBaseUrl, sp.GetRequiredService<ILogger<SettingsProvider>>()));
        services.AddHostedService(sp => sp.GetRequiredService<SettingsProvider>());
        services.AddSingleton(CredentialCipher.Create(settings.Server.EncryptionKey, options.ServiceDataDir));
        services.AddSingleton(new SqliteDatabase(Path.Combine(options.ServiceDataDir, "integrations.db"), IntegrationsStore.Migrations));
        services.AddSingleton<IntegrationsStore>();
        services.AddSingleton<OAuthClient>();
        services.AddSingleton<ConnectionService>();
        services.AddSingleton<OperationInvoker>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<PlatformLogin>();

        // Third parties: never follow redirects with credentials attached, never reuse a connection forever.
        services.AddHttpClient(OAuthClient.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) });
        services.AddHttpClient(OperationInvoker.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) });

        services.AddBatonGrpc();
        services.AddBatonGrpcClient<RunsService.RunsServiceClient>("runs");
        services.AddBatonGrpcClient<SessionsService.SessionsServiceClient>("runs");
        services.AddBatonGrpcClient<GitRestService.GitRestServiceClient>("git");

        services.AddHttpContextAccessor();
        services.AddSingleton<BatonTools>();
        services.AddSingleton<McpTools>();
        services.AddMcpServer(mcp => mcp.ServerInfo = new() { Name = "baton", Version = BuildInfo.Version })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithListToolsHandler((request, cancellationToken) => request.Services!.GetRequiredService<McpTools>().ListAsync(cancellationToken))
            .WithCallToolHandler((request, cancellationToken) => request.Services!.GetRequiredService<McpTools>().CallAsync(request.Params!, cancellationToken));
        return builder;
    }

    /// <summary>
    /// Bodies the request gate (UseRequestValidation) does not buffer (forms, webhook and proxy
    /// bodies) are capped while the handler reads them; running over the cap, or a malformed body,
    /// is a 413/400 in the route family's shape, never a 500.
    /// </summary>
    public static IApplicationBuilder UseBodyReadErrors(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await BrowserEndpoints.WriteErrorAsync(context, new IntegrationException(ex.StatusCode,
                ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? "request body too large (limit 1 MB)" : "malformed request"));
        }
    });
}
