using Baton.AppHost.EventBus;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.AppHost.Hosting;

/// <summary>Set once Baton is stopping, so exits from then on are expected.</summary>
public sealed class ShutdownState
{
    private volatile bool _stopping;
    public bool Stopping => _stopping;
    public void Begin() => _stopping = true;
}

public static class LifecycleExtensions
{
    public static void AddBatonLifecycle(this IDistributedApplicationBuilder builder, CommandLineOptions options, string eventBusDescription)
    {
        builder.Services.AddSingleton<ShutdownState>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new BannerInfo(options, eventBusDescription));
        builder.Services.AddHostedService<OrderedShutdown>();
        builder.Services.AddHostedService<CrashReporter>();
        builder.Services.AddHostedService<ReadyBanner>();
    }
}

/// <summary>
/// Ctrl+C or SIGTERM: the gateway stops first (no new requests), then the services, then the event
/// bus, each waiting for the one before; DCP then tears down what is left.
/// </summary>
internal sealed class OrderedShutdown(
    DistributedApplicationModel model,
    ResourceCommandService commands,
    ShutdownState shutdown,
    ILogger<OrderedShutdown> logger) : IHostedLifecycleService
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(15);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        shutdown.Begin();
        logger.LogInformation("Stopping Baton: gateway, then services, then the event bus");
        var resources = model.Resources;
        await StopAsync(resources.Where(r => r.Name == BatonModel.Gateway), cancellationToken);
        await StopAsync(resources.Where(r => BatonModel.Backends.Contains(r.Name)), cancellationToken);
        await StopAsync(resources.OfType<EventBusServerResource>(), cancellationToken);
    }

    private async Task StopAsync(IEnumerable<IResource> resources, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StepTimeout);
        await Task.WhenAll(resources.Select(async resource =>
        {
            try
            {
                await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StopCommand, timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
            {
                // DCP's own teardown stops whatever did not stop in time.
                logger.LogDebug(ex, "{Resource} did not stop in order", resource.Name);
            }
        }));
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// A Baton process that exits without being asked to is reported loudly, with the end of its
/// output; it is not restarted (the dashboard's Start command or a restart of Baton brings it back).
/// </summary>
internal sealed class CrashReporter(
    ResourceNotificationService notifications,
    ResourceLoggerService logs,
    ShutdownState shutdown,
    ILogger<CrashReporter> logger) : BackgroundService
{
    private const int TailLines = 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var previous = new Dictionary<string, string?>(StringComparer.Ordinal);
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken))
            {
                if (update.Resource is not BatonServiceResource)
                {
                    continue;
                }
                var state = update.Snapshot.State?.Text;
                previous.TryGetValue(update.ResourceId, out var before);
                previous[update.ResourceId] = state;
                // A stop asked for (Ctrl+C, the dashboard's Stop) passes through Stopping first.
                var wasRunning = before == KnownResourceStates.Running || before == KnownResourceStates.RuntimeUnhealthy;
                if (!wasRunning || state is null || !KnownResourceStates.TerminalStates.Contains(state) || shutdown.Stopping)
                {
                    continue;
                }
                var tail = new List<string>();
                await foreach (var batch in logs.GetAllAsync(update.Resource).WithCancellation(stoppingToken))
                {
                    tail.AddRange(batch.Select(l => l.Content));
                    if (tail.Count > TailLines)
                    {
                        tail.RemoveRange(0, tail.Count - TailLines);
                    }
                }
                logger.LogError("{Service} CRASHED (exit code {ExitCode}); it is not restarted and /ready answers 503 until it runs again (the dashboard's Start command, or restart Baton). Its last lines:{NewLine}{Tail}",
                    update.Resource.Name, update.Snapshot.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown",
                    Environment.NewLine, string.Join(Environment.NewLine, tail.Select(l => "  " + l)));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

public sealed record BannerInfo(CommandLineOptions Options, string EventBus);

/// <summary>Once the gateway is healthy (its health check is <c>/ready</c>: Redis, every service, revocations): where Baton and its dashboard are, and how to authenticate.</summary>
internal sealed class ReadyBanner(
    BannerInfo info,
    ResourceNotificationService notifications,
    Microsoft.Extensions.Configuration.IConfiguration configuration,
    DistributedApplicationOptions applicationOptions) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await notifications.WaitForResourceHealthyAsync(BatonModel.Gateway, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var options = info.Options;
        var started = DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime;
        var banner = new System.Text.StringBuilder();
        banner.AppendLine();
        banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"Baton is ready in {started.TotalSeconds:0.0} s");
        banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  REST, WebSocket, SSE  {options.GatewayUrl}");
        banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  gRPC (HTTP/2)         {options.GrpcUrl}");
        banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  event bus             {info.EventBus}");
        banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  data                  {options.DataDir}");
        banner.AppendLine(options.Token is null
            ? "  auth                  disabled (loopback only); set BATON_TOKEN or pass --token to require one"
            : $"  auth                  curl -H \"Authorization: Bearer $BATON_TOKEN\" {options.GatewayUrl}/api/status");
        if (!applicationOptions.DisableDashboard && Dashboard.Url(configuration) is { } dashboard)
        {
            // A token the user chose is not echoed; a generated one is the only way in, so it is shown.
            var login = options.Token is null ? configuration[Dashboard.BrowserTokenKey] : "$BATON_TOKEN";
            banner.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  Aspire dashboard      {dashboard}/login?t={login}");
        }
        banner.Append("Press Ctrl+C to stop.");
        Console.Out.WriteLine(banner.ToString());
    }
}
