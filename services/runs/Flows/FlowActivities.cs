using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Sessions;
using Baton.Runs.Streams;

namespace Baton.Runs.Flows;

/// <summary>Settings of flow activities, read from the environment.</summary>
public sealed record FlowOptions
{
    /// <summary>BATON_FLOW_WEBHOOK_TIMEOUT_MS: per attempt (10 s).</summary>
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>BATON_FLOW_WEBHOOK_ATTEMPTS: attempts per delivery (3).</summary>
    public int WebhookAttempts { get; init; } = 3;

    /// <summary>BATON_FLOW_WEBHOOK_RETRY_BASE_MS: first retry delay, doubled per attempt (500 ms).</summary>
    public TimeSpan WebhookRetryBase { get; init; } = TimeSpan.FromMilliseconds(500);

    public static FlowOptions FromConfiguration(IConfiguration configuration)
    {
        static int Int(string? value, int fallback, int min) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min ? v : fallback;
        return new FlowOptions
        {
            WebhookTimeout = TimeSpan.FromMilliseconds(Int(configuration["BATON_FLOW_WEBHOOK_TIMEOUT_MS"], 10_000, 1)),
            WebhookAttempts = Int(configuration["BATON_FLOW_WEBHOOK_ATTEMPTS"], 3, 1),
            WebhookRetryBase = TimeSpan.FromMilliseconds(Int(configuration["BATON_FLOW_WEBHOOK_RETRY_BASE_MS"], 500, 0)),
        };
    }
}

/// <summary>Why an activity did not do its work; logged with the trigger and event id.</summary>
public sealed class ActivityFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What each activity does (NOTES §1.5), for real: notifications, HTTP POSTs, terminal input, new sessions.</summary>
public sealed class FlowActivityRunner(
    IGestaltEventSink events, IHttpClientFactory http, IServiceProvider services, FlowOptions options, TimeProvider time, ILogger<FlowActivityRunner> logger)
{
    public const string WebhookClient = "flows-webhook";

    public async Task RunAsync(FlowTrigger trigger, FlowBinding binding, FlowEvent evt, CancellationToken cancellationToken)
    {
        var tokens = await TokensAsync(trigger, binding, evt, cancellationToken);
        string Render(string? template) => template is null ? "" : FlowMatching.Render(template, tokens);
        switch (binding.ActivityId)
        {
            case FlowCatalog.ToastNotification:
                await events.PublishAsync(GestaltStream.Notification, new JsonObject
                {
                    ["type"] = "toast",
                    ["level"] = binding.String("level") ?? "info",
                    ["message"] = Render(binding.String("message_template")),
                    ["source"] = "flow",
                    ["trigger_id"] = trigger.Id,
                    ["activity_id"] = binding.ActivityId,
                    ["event_id"] = evt.EventId,
                    ["event_type"] = evt.Type,
                    ["session_id"] = evt.SessionId,
                }, cancellationToken);
                break;
            case FlowCatalog.PostWebhook:
                await PostWebhookAsync(trigger, binding, evt, Render, cancellationToken);
                break;
            case FlowCatalog.SendToTerminal:
                await SendToTerminalAsync(binding, evt, Render, cancellationToken);
                break;
            case FlowCatalog.SpawnAgentSession:
                await SpawnAsync(binding, Render, cancellationToken);
                break;
            default:
                throw new ActivityFailedException($"unknown activity {binding.ActivityId}");
        }
    }

    private async Task<Func<string, string?>> TokensAsync(FlowTrigger trigger, FlowBinding binding, FlowEvent evt, CancellationToken cancellationToken)
    {
        string? outputTail = null;
        var wantsTail = binding.Config.Values.Any(v => v is JsonValue s && s.TryGetValue<string>(out var t) && FlowMatching.Uses(t, "output_tail"))
            || binding.ActivityId == FlowCatalog.SendToTerminal && binding.Bool("include_terminal_output");
        if (wantsTail && evt.SessionId is { } session && Sessions() is { } control)
        {
            try
            {
                var lines = await control.OutputTailAsync(session, Math.Clamp(binding.Int("output_tail_lines") ?? 50, 1, 2000), cancellationToken);
                outputTail = string.Join('\n', lines);
            }
            catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException)
            {
                logger.LogInformation("No output tail of session {Session} for flow {TriggerId}: {Reason}", session, trigger.Id, ex.Message);
            }
        }
        return token => token switch
        {
            "event_id" => evt.EventId,
            "trigger_id" => trigger.Id,
            "activity_id" => binding.ActivityId,
            "output_tail" => outputTail ?? "",
            "type" => evt.Type,
            _ when token.StartsWith("event.", StringComparison.Ordinal) => evt.Field(token["event.".Length..]),
            "session_id" or "session.id" => evt.SessionId,
            _ => evt.Field(token),
        };
    }

    private async Task PostWebhookAsync(FlowTrigger trigger, FlowBinding binding, FlowEvent evt, Func<string?, string> render, CancellationToken cancellationToken)
    {
        var url = new Uri(binding.String("url")!);
        string body;
        string mediaType;
        if (binding.String("body_template") is { Length: > 0 } template)
        {
            body = render(template);
            mediaType = LooksLikeJson(body) ? "application/json" : "text/plain";
        }
        else
        {
            body = new JsonObject
            {
                ["event_type"] = evt.Type,
                ["event_id"] = evt.EventId,
                ["trigger_id"] = trigger.Id,
                ["activity_id"] = binding.ActivityId,
                ["timestamp"] = time.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["fields"] = new JsonObject([.. evt.Fields.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value))]),
            }.ToJsonString();
            mediaType = "application/json";
        }
        var headers = binding.String("headers_json") is { Length: > 0 } json ? JsonNode.Parse(json) as JsonObject ?? [] : [];
        var client = http.CreateClient(WebhookClient);
        Exception? lastError = null;
        for (var attempt = 1; attempt <= options.WebhookAttempts; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
            request.Headers.TryAddWithoutValidation("X-Baton-Event-Id", evt.EventId);
            request.Headers.TryAddWithoutValidation("X-Baton-Trigger-Id", trigger.Id);
            foreach (var (name, value) in headers)
            {
                var text = value?.GetValue<string>() ?? "";
                if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    request.Content.Headers.Remove("Content-Type");
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", text);
                }
                else if (!request.Headers.TryAddWithoutValidation(name, text))
                {
                    request.Content.Headers.TryAddWithoutValidation(name, text);
                }
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.WebhookTimeout);
            HttpStatusCode? status = null;
            try
            {
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                status = response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    logger.LogInformation("Flow {TriggerId} webhook to {Host} answered {Status} for event {EventId} (attempt {Attempt})",
                        trigger.Id, url.Authority, (int)response.StatusCode, evt.EventId, attempt);
                    return;
                }
                lastError = new ActivityFailedException($"webhook answered {(int)response.StatusCode} {response.ReasonPhrase}");
                if ((int)response.StatusCode is < 500 and not 408 and not 429)
                {
                    break;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lastError = ex is OperationCanceledException ? new ActivityFailedException($"webhook timed out after {options.WebhookTimeout.TotalMilliseconds:0} ms") : ex;
            }
            logger.LogInformation("Flow {TriggerId} webhook to {Host} failed for event {EventId} (attempt {Attempt} of {Attempts}): {Reason}",
                trigger.Id, url.Authority, evt.EventId, attempt, options.WebhookAttempts, status is null ? lastError?.Message : ((int)status).ToString(CultureInfo.InvariantCulture));
            if (attempt < options.WebhookAttempts)
            {
                await Task.Delay(options.WebhookRetryBase * Math.Pow(2, attempt - 1), time, cancellationToken);
            }
        }
        throw new ActivityFailedException($"webhook to {url.Authority} failed: {lastError?.Message}", lastError);
    }

    private async Task SendToTerminalAsync(FlowBinding binding, FlowEvent evt, Func<string?, string> render, CancellationToken cancellationToken)
    {
        var control = Sessions() ?? throw new ActivityFailedException("sessions are not available in this service, so send_to_terminal cannot act");
        var message = render(binding.String("message_template"));
        if (binding.Bool("include_terminal_output") && !FlowMatching.Uses(binding.String("message_template"), "output_tail"))
        {
            var tail = render("{{output_tail}}");
            if (tail.Length > 0)
            {
                message += "\n" + tail;
            }
        }
        var targets = new List<string>();
        if (binding.String("target_session_id") is { Length: > 0 } sessionId)
        {
            targets.Add(render(sessionId));
        }
        else if (binding.String("target_agent_name") is { Length: > 0 } agent)
        {
            targets.AddRange(await control.SessionsOfAgentAsync(render(agent), cancellationToken));
            if (targets.Count == 0)
            {
                throw new ActivityFailedException($"agent {FlowConfigSchema.Quote(agent)} has no running session");
            }
        }
        else
        {
            throw new ActivityFailedException("send_to_terminal needs target_session_id or target_agent_name");
        }
        var bytes = Encoding.UTF8.GetBytes(message + "\r");
        foreach (var target in targets)
        {
            try
            {
                await control.SendInputAsync(target, bytes, cancellationToken);
            }
            catch (KeyNotFoundException)
            {
                throw new ActivityFailedException($"session {FlowConfigSchema.Quote(target)} not found");
            }
        }
    }

    private async Task SpawnAsync(FlowBinding binding, Func<string?, string> render, CancellationToken cancellationToken)
    {
        var control = Sessions() ?? throw new ActivityFailedException("sessions are not available in this service, so spawn_agent_session cannot act");
        var title = binding.String("title_template") is { Length: > 0 } t ? render(t) : null;
        string sessionId;
        try
        {
            sessionId = await control.StartSessionAsync(binding.String("agent_id")!, title, binding.Bool("reuse_if_running"), cancellationToken);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new ActivityFailedException($"starting a session of agent {FlowConfigSchema.Quote(binding.String("agent_id")!)} failed: {ex.Message}", ex);
        }
        if (binding.String("message_template") is { Length: > 0 } message)
        {
            await control.SendInputAsync(sessionId, Encoding.UTF8.GetBytes(render(message) + "\r"), cancellationToken);
        }
    }

    private ISessionControl? Sessions() => services.GetService<ISessionControl>();

    private static bool LooksLikeJson(string body)
    {
        var trimmed = body.TrimStart();
        if (trimmed.Length == 0 || trimmed[0] is not ('{' or '['))
        {
            return false;
        }
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
