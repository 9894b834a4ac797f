using Baton.AppHost.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.AppHost.EventBus;

/// <summary>
/// Restarts the embedded Redis when it dies, with backoff, and says so loudly. Services keep running
/// meanwhile: their multiplexers reconnect to the same port, subscribers are told messages may have
/// been lost and resynchronise from their durable event logs, and <c>/ready</c> answers 503 until
/// the bus answers again.
/// </summary>
internal sealed class EventBusSupervisor(
    EventBusServerResource bus,
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    ShutdownState shutdown,
    TimeProvider time,
    ILogger<EventBusSupervisor> logger) : BackgroundService
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5)];
    /// <summary>Running this long without dying again resets the backoff.</summary>
    private static readonly TimeSpan Stable = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string? previous = null;
        var attempt = 0;
        long healthySince = 0;
        long? downSince = null;
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken))
            {
                if (!ReferenceEquals(update.Resource, bus))
                {
                    continue;
                }
                var state = update.Snapshot.State?.Text;
                var wasUp = previous is not null && !KnownResourceStates.TerminalStates.Contains(previous);
                previous = state;
                if (state == KnownResourceStates.Running && update.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
                {
                    if (downSince is { } since)
                    {
                        logger.LogWarning("{Bus} is back after {Seconds:0.0} s; the services reconnect and resynchronise from their durable event logs",
                            bus.Description, time.GetElapsedTime(since).TotalSeconds);
                        downSince = null;
                        healthySince = time.GetTimestamp();
                    }
                    else if (healthySince == 0)
                    {
                        healthySince = time.GetTimestamp();
                    }
                    continue;
                }
                if (!wasUp || state is null || !KnownResourceStates.TerminalStates.Contains(state) || shutdown.Stopping || stoppingToken.IsCancellationRequested)
                {
                    continue;
                }
                if (downSince is null && healthySince != 0 && time.GetElapsedTime(healthySince) > Stable)
                {
                    attempt = 0;
                }
                var delay = Backoff[Math.Min(attempt, Backoff.Length - 1)];
                attempt++;
                downSince ??= time.GetTimestamp();
                logger.LogError("{Bus} exited (code {ExitCode}); restarting it in {Delay} ms (attempt {Attempt}). Until it answers, /ready is 503 and events wait in the services' durable logs",
                    bus.Description, update.Snapshot.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", delay.TotalMilliseconds, attempt);
                _ = RestartAsync(delay, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RestartAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(delay, time, cancellationToken);
                if (shutdown.Stopping)
                {
                    return;
                }
                var result = await commands.ExecuteCommandAsync(bus, KnownResourceCommands.StartCommand, cancellationToken);
                if (result.Success)
                {
                    return;
                }
                delay = Backoff[^1];
                logger.LogError("Restarting {Bus} failed ({Reason}); trying again in {Delay} ms", bus.Description, result.Message, delay.TotalMilliseconds);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
