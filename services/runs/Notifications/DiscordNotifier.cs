using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Runs.Settings;

namespace Baton.Runs.Notifications;

/// <summary>
/// Sends Discord webhook messages (<c>{"content": …}</c>) in the background: failures are logged
/// and retried with exponential backoff (honouring 429 retry_after); they never fail a run.
/// </summary>
public sealed class DiscordNotifier(
    IHttpClientFactory httpClients, SettingsStore settings, RunsConfiguration configuration, ILogger<DiscordNotifier> logger) : BackgroundService
{
    public const string HttpClientName = "discord";
    private const int MaxContent = 1900;

    private readonly Channel<string> _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });

    public enum Kind
    {
        RunCompleted,
        RunFailed,
        NeedsAttention,
    }

    /// <summary>Queues a notification if the settings allow it; never throws.</summary>
    public async Task NotifyAsync(Kind kind, bool runNotify, string content, CancellationToken cancellationToken = default)
    {
        try
        {
            var current = await settings.GetNotificationsAsync(cancellationToken);
            if (string.IsNullOrEmpty(current.DiscordWebhookUrl))
            {
                return;
            }
            var allowed = kind switch
            {
                Kind.RunCompleted => runNotify,
                Kind.RunFailed => current.NotifyOnRunFailed,
                _ => true,
            };
            if (allowed)
            {
                _queue.Writer.TryWrite(content.Length > MaxContent ? content[..MaxContent] + "…" : content);
            }
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not queue a Discord notification");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var content in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            await SendWithRetryAsync(content, stoppingToken);
        }
    }

    private async Task SendWithRetryAsync(string content, CancellationToken cancellationToken)
    {
        var delay = configuration.NotifyRetryBase;
        for (var attempt = 1; attempt <= configuration.NotifyAttempts; attempt++)
        {
            var url = (await settings.GetNotificationsAsync(cancellationToken)).DiscordWebhookUrl;
            if (string.IsNullOrEmpty(url))
            {
                return;
            }
            try
            {
                using var response = await httpClients.CreateClient(HttpClientName).PostAsJsonAsync(url, new { content }, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
                logger.LogWarning("Discord webhook answered {Status} (attempt {Attempt})", (int)response.StatusCode, attempt);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (JsonNode.Parse(body) is JsonObject o && o["retry_after"] is JsonValue v && v.TryGetValue<double>(out var seconds))
                    {
                        delay = TimeSpan.FromSeconds(Math.Min(seconds, 60));
                    }
                }
                else if ((int)response.StatusCode is >= 400 and < 500)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                logger.LogWarning(ex, "Discord webhook failed (attempt {Attempt})", attempt);
            }
            if (attempt < configuration.NotifyAttempts)
            {
                await Task.Delay(delay, cancellationToken);
                delay *= 2;
            }
        }
        logger.LogError("Discord notification dropped after {Attempts} attempts", configuration.NotifyAttempts);
    }
}
