using System.Globalization;

namespace Baton.Runs.Streams;

/// <summary>Settings of the 000_* streams and their watchers, read from the environment.</summary>
public sealed record StreamsOptions
{
    /// <summary>BATON_WORKDIR: the working directory whose file changes, commits and branch switches are watched.</summary>
    public string? WorkDir { get; init; }

    /// <summary>BATON_FILE_EVENTS_DEBOUNCE_MS: quiet time per path before a change is reported (default 200, as in the git service).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>BATON_FILE_EVENTS=always: watch even while nobody listens.</summary>
    public bool AlwaysWatch { get; init; }

    /// <summary>BATON_GESTALT_EVENTS_KEEP / BATON_GESTALT_EVENTS_MAX_AGE_HOURS: retention of the durable stream (100,000 events, 7 days).</summary>
    public int Keep { get; init; } = 100_000;

    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(7);

    public static StreamsOptions FromConfiguration(IConfiguration configuration)
    {
        var workDir = configuration["BATON_WORKDIR"];
        return new StreamsOptions
        {
            WorkDir = string.IsNullOrWhiteSpace(workDir) ? null : Path.GetFullPath(workDir),
            Debounce = TimeSpan.FromMilliseconds(int.TryParse(configuration["BATON_FILE_EVENTS_DEBOUNCE_MS"], NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : 200),
            AlwaysWatch = string.Equals(configuration["BATON_FILE_EVENTS"], "always", StringComparison.OrdinalIgnoreCase),
            Keep = int.TryParse(configuration["BATON_GESTALT_EVENTS_KEEP"], NumberStyles.None, CultureInfo.InvariantCulture, out var k) && k > 0 ? k : 100_000,
            MaxAge = TimeSpan.FromHours(double.TryParse(configuration["BATON_GESTALT_EVENTS_MAX_AGE_HOURS"], NumberStyles.Float, CultureInfo.InvariantCulture, out var h) && h > 0 ? h : 168),
        };
    }
}

/// <summary>Trims the durable 000_* stream to its retention bound every few minutes.</summary>
public sealed class GestaltEventRetention(GestaltEventLog events, StreamsOptions options, TimeProvider time, ILogger<GestaltEventRetention> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(5), time);
        do
        {
            try
            {
                var removed = await events.TrimAsync(options.Keep, time.GetUtcNow() - options.MaxAge, stoppingToken);
                if (removed > 0)
                {
                    logger.LogInformation("Retention removed {Count} gestalt stream events", removed);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Trimming the gestalt stream events failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
