using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Runs.V1;
using Google.Api;
using Google.Protobuf;

namespace Baton.Cli.Sessions;

/// <summary>
/// <c>baton notify [--session-id ID] '&lt;json&gt;'</c>: Gestalt's <c>gestalt-notify</c>. Codex runs its <c>notify</c>
/// program with the event as the last argument (<c>{"type":"agent-turn-complete","turn-id":…}</c>); this wraps it in
/// the notify envelope and posts it to the session, so a Codex profile only needs
/// <c>notify = ["baton", "notify"]</c> (the session id comes from <c>GESTALT_SESSION_ID</c>).
/// </summary>
public static class NotifyCommand
{
    public const string SessionVariable = "GESTALT_SESSION_ID";

    public static Command Create()
    {
        var sessionId = new Option<string?>("--session-id") { Description = $"The session to report for [env: {SessionVariable}, set in every session]" };
        var eventId = new Option<string?>("--event-id") { Description = "Deduplication id (default: codex-notify:turn-<turn-id> when the event has one)" };
        var payload = new Argument<string?>("event") { Description = "The event as a JSON object with a \"type\" (Codex passes it here); '-' or nothing reads standard input", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("notify", "Report an agent event (Codex's notify hook) to its session: notifications, progress and flows") { sessionId, eventId, payload };
        command.SetHandler(async context =>
        {
            var id = context.Get(sessionId) ?? Environment.GetEnvironmentVariable(SessionVariable);
            if (string.IsNullOrWhiteSpace(id))
            {
                throw CliException.Usage($"which session? give --session-id or run inside a session ({SessionVariable} is not set)");
            }
            var raw = context.Get(payload);
            if (raw is null or "-")
            {
                raw = await Console.In.ReadToEndAsync(context.Cancellation);
            }
            var envelope = Envelope(id, raw, context.Get(eventId), DateTimeOffset.UtcNow);
            await context.Baton.Sessions.NotifySessionAsync(new SessionNotifyRequest
            {
                Id = id,
                Body = new HttpBody { ContentType = "application/json", Data = ByteString.CopyFrom(envelope.ToJsonString(), Encoding.UTF8) },
            }, cancellationToken: context.Cancellation);
            context.Output.Done($"notified '{id}': {(string?)envelope["payload"]!["type"]}", envelope);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The notify envelope (000_* notify-events): session_id, occurred_at, payload, raw, event_id.</summary>
    public static JsonObject Envelope(string sessionId, string raw, string? eventId, DateTimeOffset now)
    {
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(raw);
        }
        catch (JsonException ex)
        {
            throw CliException.Usage($"the event is not JSON ({ErrorTranslation.OneLine(ex.Message)}); pass an object such as '{{\"type\":\"agent-turn-complete\"}}'");
        }
        if (parsed is not JsonObject payload)
        {
            throw CliException.Usage("the event must be a JSON object with a \"type\"");
        }
        if (payload["type"] is not JsonValue type || type.GetValueKind() != JsonValueKind.String || string.IsNullOrWhiteSpace((string?)type))
        {
            throw CliException.Usage("the event has no \"type\" (Codex sends e.g. {\"type\":\"agent-turn-complete\"})");
        }
        var envelope = new JsonObject
        {
            ["session_id"] = sessionId,
            ["occurred_at"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffK", CultureInfo.InvariantCulture),
            ["payload"] = payload,
            ["raw"] = raw,
        };
        eventId ??= payload["turn-id"] is JsonValue turn ? "codex-notify:turn-" + turn.ToJsonString().Trim('"') : null;
        if (!string.IsNullOrEmpty(eventId))
        {
            envelope["event_id"] = eventId;
        }
        return envelope;
    }
}
