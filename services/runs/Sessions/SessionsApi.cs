using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.Pty;
using Baton.Runs.Flows;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ContractProgress = Baton.Contracts.Runs.V1.SessionProgress;

namespace Baton.Runs.Sessions;

/// <summary>
/// <c>/api/sessions/*</c> and the stream behind <c>WS /ws/session/{id}</c> (NOTES §1.4). Status codes and messages
/// follow Gestalt's handlers; the gateway renders them in the 000_* envelope.
/// </summary>
public sealed class SessionsApi(SessionManager sessions, IServiceProvider services, TimeProvider time, ILogger<SessionsApi> logger)
    : SessionsService.SessionsServiceBase
{
    /// <summary>Response header (and trailer) naming the running session of a 409; the gateway adds it to the envelope.</summary>
    public const string SessionIdHeader = "baton-error-session-id";

    public const int MaxInputBytes = 1024 * 1024;
    private const int MaxJsonBytes = 256 * 1024;
    private const int BellContextLines = 50;
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 64 };
    private static readonly HashSet<string> NotifyFields = ["session_id", "occurred_at", "payload", "raw", "event_id"];

    public override Task<SessionList> ListSessions(ListSessionsRequest request, ServerCallContext context)
    {
        var list = new SessionList();
        list.Sessions.AddRange(sessions.List().Select(ToSummary));
        return Task.FromResult(list);
    }

    private static readonly HashSet<string> CreateFields = ["title", "role", "agent", "runner"];

    public override Task<CreatedSession> CreateSessionFromJson(Google.Api.HttpBody request, ServerCallContext context)
    {
        var create = new CreateSessionRequest();
        if (!request.Data.IsEmpty)
        {
            foreach (var (key, value) in ParseObject(request, "invalid request body"))
            {
                if (!CreateFields.Contains(key))
                {
                    throw Invalid($"invalid request body: unknown field \"{Truncate(key)}\"");
                }
                var text = value switch
                {
                    null => "",
                    JsonValue v when v.TryGetValue<string>(out var s) => s,
                    _ => throw Invalid($"invalid request body: {key} must be a string"),
                };
                switch (key)
                {
                    case "title": create.Title = text; break;
                    case "role": create.Role = text; break;
                    case "agent": create.Agent = text; break;
                    default: create.Runner = text; break;
                }
            }
        }
        return CreateSession(create, context);
    }

    public override async Task<CreatedSession> CreateSession(CreateSessionRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Agent))
        {
            throw Invalid("agent is required");
        }
        var runner = request.Runner.Trim() switch
        {
            "" or "server" => "server",
            "external" => "external",
            _ => throw Invalid("runner must be \"server\" or \"external\""),
        };
        CheckText(request.Agent, "agent", 256);
        CheckText(request.Title, "title", 256);
        CheckText(request.Role, "role", 256);
        AgentSession session;
        try
        {
            session = await sessions.CreateAsync(request.Agent.Trim(), runner, request.Title, request.Role, context.CancellationToken);
        }
        catch (KeyNotFoundException)
        {
            throw Invalid("unknown agent");
        }
        catch (SessionConflictException conflict)
        {
            context.GetHttpContext().Response.Headers[SessionIdHeader] = Uri.EscapeDataString(conflict.SessionId);
            throw new RpcException(new Status(StatusCode.AlreadyExists, conflict.Message), new Metadata { { "session-id", Uri.EscapeDataString(conflict.SessionId) } });
        }
        catch (TmuxUnavailableException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, ex.Message));
        }
        catch (PtySpawnException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"could not start the session: {ex.Message}"));
        }
        context.SetHttpStatus(StatusCodes.Status201Created);
        var summary = ToSummary(session);
        var created = new CreatedSession
        {
            Id = summary.Id,
            Title = summary.Title,
            Role = summary.Role,
            CreatedAt = summary.CreatedAt,
            Status = summary.Status,
            LlmType = summary.LlmType,
            Model = summary.Model,
            Interface = summary.Interface,
            Runner = summary.Runner,
            Command = summary.Command,
            Launch = ToLaunch(session.Launch),
        };
        created.Skills.AddRange(summary.Skills);
        created.PromptFiles.AddRange(summary.PromptFiles);
        return created;
    }

    public override async Task<Empty> DeleteSession(SessionIdRequest request, ServerCallContext context)
    {
        if (!await sessions.DeleteAsync(request.Id, context.CancellationToken))
        {
            throw NotFound();
        }
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override Task<SessionLines> GetSessionOutput(SessionIdRequest request, ServerCallContext context)
    {
        var session = Require(request.Id);
        var lines = new SessionLines { Id = session.Id };
        lines.Lines.AddRange(SessionText.Tail(session.Output.Recent(), sessions.Configuration.ScrollbackLines));
        return Task.FromResult(lines);
    }

    public override async Task<SessionInputResult> SendSessionInput(SessionInputRequest request, ServerCallContext context)
    {
        var session = Require(request.Id);
        var data = request.Body?.Data ?? ByteString.Empty;
        if (data.IsEmpty)
        {
            throw Invalid("invalid request body");
        }
        if (data.Length > MaxInputBytes)
        {
            context.SetHttpStatus(StatusCodes.Status413PayloadTooLarge);
            throw Invalid($"input is larger than {MaxInputBytes / 1024} KiB");
        }
        await RunnerCallAsync(session, () => session.Runner.WriteAsync(data.Memory, context.CancellationToken));
        return new SessionInputResult { Bytes = data.Length };
    }

    public override async Task<Empty> ActivateSession(SessionIdRequest request, ServerCallContext context)
    {
        var session = Require(request.Id);
        await RunnerCallAsync(session, () => session.Runner.ActivateAsync(context.CancellationToken));
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override Task<SessionLines> GetSessionHistory(SessionHistoryRequest request, ServerCallContext context)
    {
        var count = sessions.Configuration.ScrollbackLines;
        if (request.Lines.Trim().Length > 0 && (!int.TryParse(request.Lines.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out count) || count <= 0))
        {
            throw Invalid("invalid lines");
        }
        long? before = null;
        if (request.BeforeCursor.Trim().Length > 0)
        {
            if (!long.TryParse(request.BeforeCursor.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var cursor) || cursor < 0)
            {
                throw Invalid("invalid before_cursor");
            }
            before = cursor;
        }
        var session = Require(request.Id);
        var page = SessionHistory.Page(session.Output, Math.Min(count, 100_000), before);
        var lines = new SessionLines { Id = session.Id };
        lines.Lines.AddRange(page.Lines);
        if (page.Cursor is { } next)
        {
            lines.Cursor = next;
        }
        return Task.FromResult(lines);
    }

    public override Task<SessionInputHistory> GetSessionInputHistory(SessionInputHistoryRequest request, ServerCallContext context)
    {
        var limit = 100;
        if (request.Limit.Trim().Length > 0 && (!int.TryParse(request.Limit.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit <= 0))
        {
            throw Invalid("invalid limit");
        }
        DateTimeOffset? since = null;
        if (request.Since.Trim().Length > 0)
        {
            if (!DateTimeOffset.TryParse(request.Since.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed) || !request.Since.Contains('T', StringComparison.Ordinal))
            {
                throw Invalid("invalid since timestamp");
            }
            since = parsed;
        }
        var session = Require(request.Id);
        var entries = session.InputHistory().Where(e => since is null || e.Timestamp >= since).ToList();
        if (entries.Count > limit)
        {
            entries = entries[^limit..];
        }
        var history = new SessionInputHistory();
        history.Entries.AddRange(entries.Select(e => new InputHistoryEntry { Command = e.Command, Timestamp = Timestamp.FromDateTimeOffset(e.Timestamp) }));
        return Task.FromResult(history);
    }

    public override async Task<Empty> AddSessionInputHistory(AddSessionInputHistoryRequest request, ServerCallContext context)
    {
        var body = ParseObject(request.Body, "invalid request body");
        foreach (var (key, _) in body)
        {
            if (key != "command")
            {
                throw Invalid($"invalid request body: unknown field \"{Truncate(key)}\"");
            }
        }
        var command = body["command"] is JsonValue value && value.TryGetValue<string>(out var text) ? text.Trim() : null;
        if (body["command"] is not null and not JsonValue || (body["command"] is JsonValue && command is null))
        {
            throw Invalid("invalid request body");
        }
        if (string.IsNullOrEmpty(command))
        {
            throw Invalid("missing command");
        }
        if (command.Length > 64 * 1024)
        {
            throw Invalid("command is longer than 64 KiB");
        }
        var session = Require(request.Id);
        await session.RecordInputAsync(command, time.GetUtcNow(), context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override async Task<Empty> RingSessionBell(SessionIdRequest request, ServerCallContext context)
    {
        var session = Require(request.Id);
        var lines = SessionText.Tail(session.Output.Recent(), BellContextLines);
        logger.LogWarning("Terminal bell in session {SessionId} ({ContextLines} lines of context)", session.Id, lines.Count);
        await sessions.PublishAsync(GestaltStream.Notification, new JsonObject
        {
            ["type"] = "bell",
            ["level"] = "warning",
            ["message"] = $"terminal bell in {session.Id}",
            ["session_id"] = session.Id,
            ["context"] = string.Join('\n', lines),
            ["timestamp"] = time.GetUtcNow().UtcDateTime.ToString("O"),
        });
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override async Task<Empty> NotifySession(SessionNotifyRequest request, ServerCallContext context)
    {
        var envelope = ParseObject(request.Body, "invalid request body");
        foreach (var (key, _) in envelope)
        {
            if (!NotifyFields.Contains(key))
            {
                throw Invalid($"invalid request body: unknown field \"{Truncate(key)}\"");
            }
        }
        var sessionId = OptionalString(envelope, "session_id");
        var raw = OptionalString(envelope, "raw");
        var eventId = OptionalString(envelope, "event_id")?.Trim();
        DateTimeOffset? occurredAt = null;
        if (OptionalString(envelope, "occurred_at") is { Length: > 0 } occurred)
        {
            occurredAt = DateTimeOffset.TryParse(occurred, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) && occurred.Contains('T', StringComparison.Ordinal)
                ? at
                : throw Invalid("invalid request body");
        }
        _ = raw;
        if (string.IsNullOrWhiteSpace(sessionId))
        {
            throw Invalid("missing session id");
        }
        if (envelope["payload"] is null)
        {
            throw Unprocessable(context, "missing payload");
        }
        if (envelope["payload"] is not JsonObject payload)
        {
            throw Unprocessable(context, "payload must be a JSON object");
        }
        if (payload["type"] is not JsonValue typeValue || !typeValue.TryGetValue<string>(out var payloadType) || string.IsNullOrWhiteSpace(payloadType))
        {
            throw Unprocessable(context, "missing payload type");
        }
        payloadType = payloadType.Trim();
        if (sessionId.Trim() != request.Id)
        {
            throw Invalid("session id mismatch");
        }
        var session = sessions.Get(request.Id) ?? throw new RpcException(new Status(StatusCode.NotFound, "session not found"));
        var when = (occurredAt ?? time.GetUtcNow()).ToUniversalTime();

        var isProgress = payloadType is "progress" or "plan-update";
        if (isProgress)
        {
            var progress = Notify.NormalizeProgress(payload, when) ?? throw Unprocessable(context, "missing plan_file");
            session.Progress = progress;
            await sessions.PublishAsync(GestaltStream.Terminal, sessions.TerminalEvent("plan-update", session.Id, new JsonObject
            {
                ["plan_file"] = progress.PlanFile,
                ["l1"] = progress.L1,
                ["l2"] = progress.L2,
                ["task_level"] = progress.TaskLevel,
                ["task_state"] = progress.TaskState,
                ["timestamp"] = when.UtcDateTime.ToString("O"),
            }));
        }
        if (payloadType is "prompt-text" or "prompt-voice" && !payload.ContainsKey("plan_file") && session.Progress is { PlanFile.Length: > 0 } current)
        {
            payload["plan_file"] = current.PlanFile;
        }

        var fields = Notify.Fields(session.Id, eventId, payloadType, when, payload);
        var eventType = Notify.CanonicalEventType(payloadType);
        await sessions.PublishAsync(GestaltStream.Notification, new JsonObject
        {
            ["type"] = "notify",
            ["level"] = "info",
            ["message"] = payloadType,
            ["session_id"] = session.Id,
            ["event_type"] = eventType,
            ["event_id"] = eventId,
            ["fields"] = fields.DeepClone(),
            ["timestamp"] = when.UtcDateTime.ToString("O"),
        });
        logger.LogInformation("Notify event {EventType} accepted for session {SessionId}", eventType, session.Id);

        if (services.GetService<IFlowDispatcher>() is not { } dispatcher)
        {
            if (isProgress)
            {
                context.SetHttpStatus(StatusCodes.Status204NoContent);
                return new Empty();
            }
            throw new RpcException(new Status(StatusCode.Unavailable, "flow dispatcher unavailable"));
        }
        await dispatcher.DispatchAsync(eventType, fields, string.IsNullOrEmpty(eventId) ? null : eventId, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override Task<ContractProgress> GetSessionProgress(SessionIdRequest request, ServerCallContext context)
    {
        var session = Require(request.Id);
        if (session.Progress is not { } progress)
        {
            return Task.FromResult(new ContractProgress { HasProgress = false });
        }
        var response = new ContractProgress { HasProgress = true, UpdatedAt = Timestamp.FromDateTimeOffset(progress.UpdatedAt) };
        // Gestalt leaves empty fields out.
        if (progress.PlanFile.Length > 0)
        {
            response.PlanFile = progress.PlanFile;
        }
        if (progress.L1.Length > 0)
        {
            response.L1 = progress.L1;
        }
        if (progress.L2.Length > 0)
        {
            response.L2 = progress.L2;
        }
        if (progress.TaskLevel != 0)
        {
            response.TaskLevel = progress.TaskLevel;
        }
        if (progress.TaskState.Length > 0)
        {
            response.TaskState = progress.TaskState;
        }
        return Task.FromResult(response);
    }

    public override Task SessionTerminal(IAsyncStreamReader<SessionTerminalInput> requestStream, IServerStreamWriter<SessionTerminalOutput> responseStream, ServerCallContext context) =>
        SessionTerminalStream.RunAsync(sessions, requestStream, responseStream, context, logger);

    // ---- helpers ----

    private AgentSession Require(string id) => sessions.Get(id) ?? throw NotFound();

    private static RpcException NotFound() => new(new Status(StatusCode.NotFound, "terminal not found"));

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static RpcException Unprocessable(ServerCallContext context, string message)
    {
        context.SetHttpStatus(StatusCodes.Status422UnprocessableEntity);
        return Invalid(message);
    }

    private static async Task RunnerCallAsync(AgentSession session, Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (SessionWindowNotFoundException)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"session window not found; start agent {session.Profile.Id} again"));
        }
        catch (SessionNotTmuxManagedException ex)
        {
            throw new RpcException(new Status(StatusCode.Aborted, ex.Message));
        }
        catch (TmuxUnavailableException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, ex.Message));
        }
    }

    private static void CheckText(string value, string field, int max)
    {
        if (value.Length > max)
        {
            throw Invalid($"{field} is longer than {max} characters");
        }
        if (value.Any(c => char.IsControl(c)))
        {
            throw Invalid($"{field} contains control characters");
        }
    }

    private static JsonObject ParseObject(Google.Api.HttpBody? body, string message)
    {
        var data = body?.Data ?? ByteString.Empty;
        if (data.IsEmpty)
        {
            throw Invalid(message);
        }
        if (data.Length > MaxJsonBytes)
        {
            throw Invalid($"{message}: larger than {MaxJsonBytes / 1024} KiB");
        }
        try
        {
            using var document = JsonDocument.Parse(data.Memory, StrictJson);
            return JsonObject.Create(document.RootElement.Clone()) is { } obj && document.RootElement.ValueKind == JsonValueKind.Object
                ? obj
                : throw Invalid(message);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            throw Invalid(message);
        }
    }

    private static string? OptionalString(JsonObject body, string key) => body[key] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        _ => throw Invalid("invalid request body"),
    };

    private static string Truncate(string value) => value.Length > 40 ? value[..40] + "…" : value;

    private static SessionSummary ToSummary(AgentSession session)
    {
        var summary = new SessionSummary
        {
            Id = session.Id,
            Title = session.Title,
            Role = session.Role,
            CreatedAt = Timestamp.FromDateTimeOffset(session.CreatedAt),
            Status = session.Status,
            LlmType = session.Profile.CliType,
            Model = session.Profile.Model,
            Interface = session.Profile.Interface,
            Runner = session.Runner.Kind,
            Command = session.Command,
        };
        summary.Skills.AddRange(session.Profile.Skills);
        summary.PromptFiles.AddRange(session.PromptFiles);
        return summary;
    }

    private static Contracts.Runs.V1.SessionLaunch ToLaunch(LaunchSpec launch)
    {
        static long Ns(TimeSpan span) => span.Ticks * 100;
        var proto = new Contracts.Runs.V1.SessionLaunch
        {
            SessionId = launch.SessionId,
            Interface = launch.Interface,
            PromptInjection = new PromptInjection
            {
                Mode = launch.InjectionMode,
                Pacing = new PromptPacing
                {
                    PromptDelay = Ns(launch.Pacing.PromptDelay),
                    InterPromptDelay = Ns(launch.Pacing.InterPromptDelay),
                    FinalEnterDelay = Ns(launch.Pacing.FinalEnterDelay),
                    EnterKeyDelay = Ns(launch.Pacing.EnterKeyDelay),
                    OnAirTimeout = Ns(launch.Pacing.OnAirTimeout),
                },
            },
        };
        proto.Argv.AddRange(launch.Argv);
        proto.PromptFiles.AddRange(launch.PromptFiles);
        proto.PromptInjection.Payload.AddRange(launch.Payload);
        return proto;
    }

    internal static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
