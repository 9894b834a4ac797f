using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.Runs.Events;
using Baton.Runs.Hooks;
using Baton.Runs.Storage;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Runs.Api;

public sealed partial class RunsApi
{
    private static readonly HashSet<string> TerminalEvents = ["run.completed", "run.failed", "run.cancelled"];
    private static readonly TimeSpan TerminalQuietPeriod = TimeSpan.FromMilliseconds(500);

    public override async Task<Run> CreateRun(CreateRunRequest request, ServerCallContext context)
    {
        var run = await runs.CreateAsync(request.AgentId, request.Task, request.SourceBranch, request.ParentRunId, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return ToProto(run);
    }

    public override async Task<RunList> ListRuns(ListRunsRequest request, ServerCallContext context)
    {
        var list = new RunList();
        list.Runs.AddRange((await store.ListRunsAsync(request.ProjectId, request.Status, context.CancellationToken)).Select(ToProto));
        return list;
    }

    public override async Task<Run> GetRun(RunIdRequest request, ServerCallContext context) =>
        ToProto(await runs.GetAsync(request.Id, context.CancellationToken));

    public override async Task<Empty> DeleteRun(RunIdRequest request, ServerCallContext context)
    {
        await runs.DeleteAsync(request.Id, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override async Task<Empty> CancelRun(RunIdRequest request, ServerCallContext context)
    {
        await runs.CancelAsync(request.Id, context.CancellationToken);
        return new Empty();
    }

    public override async Task<Empty> PauseRun(RunIdRequest request, ServerCallContext context)
    {
        await runs.PauseAsync(request.Id, context.CancellationToken);
        return new Empty();
    }

    public override async Task<Run> ContinueRun(ContinueRunRequest request, ServerCallContext context) =>
        ToProto(await runs.ContinueAsync(request.Id, request.Message, context.CancellationToken));

    public override async Task<Empty> NotifyRun(NotifyRunRequest request, ServerCallContext context)
    {
        await runs.NotifyAsync(request.Id, request.Notify, context.CancellationToken);
        return new Empty();
    }

    public override async Task<Struct> PostHook(HookRequest request, ServerCallContext context)
    {
        var secret = context.GetHttpContext().Request.Headers[HookSettingsWriter.SecretHeader].ToString();
        if (string.IsNullOrEmpty(secret))
        {
            secret = context.RequestHeaders.GetValue(HookSettingsWriter.SecretHeader.ToLowerInvariant()) ?? "";
        }
        var body = request.Body?.Data.Memory ?? ReadOnlyMemory<byte>.Empty;
        var answer = await runs.HandleHookAsync(request.Id, secret, body, context.CancellationToken);
        return Struct.Parser.ParseJson(answer.ToJsonString());
    }

    // ---- events ----

    public override async Task<RunEventList> ListRunEvents(ListRunEventsRequest request, ServerCallContext context)
    {
        await runs.GetAsync(request.Id, context.CancellationToken);
        var list = new RunEventList();
        var limit = request.Limit > 0 ? request.Limit : int.MaxValue;
        var after = request.AfterId;
        while (list.Events.Count < limit)
        {
            var page = await events.ReadAsync(request.Id, after, Math.Min(5000, limit - list.Events.Count), context.CancellationToken);
            list.Events.AddRange(page.Select(RunEventLog.ToProto));
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
        }
        return list;
    }

    public override async Task StreamRunEvents(StreamRunEventsRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var run = await runs.GetAsync(request.RunId, ct);
        // Headers now: the gateway's SSE bridge answers 200 at once instead of waiting for the first event.
        await context.WriteResponseHeadersAsync(new Metadata { { "baton-stream", "open" } });
        if (await HasEndedAsync(run.Id, request.AfterId, ct) is (true, _))
        {
            return;
        }
        // Replay then live. After a terminal event the stream ends once the run is still terminal, its CLI has
        // exited and nothing newer arrives for a moment (late hook calls may follow the terminal event).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var enumerator = events.StreamAsync(run.Id, request.AfterId, stop.Token).GetAsyncEnumerator(stop.Token);
        var terminalSeen = false;
        var lastId = request.AfterId;
        Task<bool>? next = null;
        try
        {
            while (true)
            {
                next ??= enumerator.MoveNextAsync().AsTask();
                if (terminalSeen && await Task.WhenAny(next, Task.Delay(TerminalQuietPeriod, ct)) != next)
                {
                    (var ended, terminalSeen) = await HasEndedAsync(run.Id, lastId, ct);
                    if (ended)
                    {
                        return;
                    }
                    continue;
                }
                if (!await next)
                {
                    return;
                }
                next = null;
                var stored = enumerator.Current;
                lastId = stored.Id;
                await responseStream.WriteAsync(RunEventLog.ToProto(stored), ct);
                if (TerminalEvents.Contains(stored.EventType))
                {
                    (var ended, terminalSeen) = await HasEndedAsync(run.Id, stored.Id, ct);
                    if (ended)
                    {
                        return;
                    }
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            if (next is not null)
            {
                try
                {
                    await next;
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }

    /// <summary>
    /// Whether a run's event stream is over: the run is gone, or settled with its CLI exited and nothing
    /// after <paramref name="afterId"/>. A settled run's CLI can still be writing: a StopFailure hook fails
    /// the run at once, and the CLI's result line follows.
    /// </summary>
    private async Task<(bool Ended, bool Settled)> HasEndedAsync(string runId, long afterId, CancellationToken ct)
    {
        var current = await store.GetRunAsync(runId, ct);
        if (current is null)
        {
            return (true, true);
        }
        var settled = RunStatus.IsTerminal(current.Status);
        var ended = settled && runs.FindProcess(runId) is null && (await events.ReadAsync(runId, afterId, 1, ct)).Count == 0;
        return (ended, settled);
    }

    // ---- tasks ----

    public override async Task<RunTaskList> ListRunTasks(RunIdRequest request, ServerCallContext context)
    {
        await runs.GetAsync(request.Id, context.CancellationToken);
        var creates = new List<(string? ToolUseId, JsonObject Input)>();
        var createdIds = new Dictionary<string, string>(StringComparer.Ordinal);
        var resultIdsInOrder = new List<string>();
        var updates = new List<JsonObject>();
        var after = 0L;
        while (true)
        {
            var page = await events.ReadAsync(request.Id, after, 5000, context.CancellationToken);
            foreach (var stored in page)
            {
                if (stored.EventType is not ("agent.tool_call" or "agent.tool_result"))
                {
                    continue;
                }
                var payload = ParseObject(stored.PayloadJson);
                var tool = Adapters.Json.String(payload, "tool");
                var toolUseId = Adapters.Json.String(payload, "tool_use_id");
                if (stored.EventType == "agent.tool_call" && tool == "TaskCreate" && payload["input"] is JsonObject input)
                {
                    creates.Add((toolUseId, input));
                }
                else if (stored.EventType == "agent.tool_call" && tool == "TaskUpdate" && payload["input"] is JsonObject update)
                {
                    updates.Add(update);
                }
                else if (stored.EventType == "agent.tool_result" && tool == "TaskCreate" && TaskIdOf(payload["output"]) is { } id)
                {
                    if (toolUseId is not null)
                    {
                        createdIds[toolUseId] = id;
                    }
                    resultIdsInOrder.Add(id);
                }
            }
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
        }
        var tasks = new List<RunTask>();
        for (var i = 0; i < creates.Count; i++)
        {
            var (toolUseId, input) = creates[i];
            var id = toolUseId is not null && createdIds.TryGetValue(toolUseId, out var byUse) ? byUse
                : i < resultIdsInOrder.Count ? resultIdsInOrder[i] : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            tasks.Add(new RunTask
            {
                Id = id,
                Subject = Adapters.Json.String(input, "subject") ?? "",
                Description = Adapters.Json.String(input, "description") ?? "",
                Status = "pending",
            });
        }
        foreach (var update in updates)
        {
            var taskId = Adapters.Json.String(update, "taskId") ?? Adapters.Json.String(update, "task_id") ?? Adapters.Json.String(update, "id");
            var task = tasks.FirstOrDefault(t => t.Id == taskId || t.Id == $"task-{taskId}" || $"task-{t.Id}" == taskId);
            if (task is null)
            {
                continue;
            }
            task.Status = Adapters.Json.String(update, "status") ?? task.Status;
            task.Subject = Adapters.Json.String(update, "subject") ?? task.Subject;
            task.Description = Adapters.Json.String(update, "description") ?? task.Description;
        }
        var list = new RunTaskList();
        list.Tasks.AddRange(tasks.Where(t => t.Status != "deleted"));
        return list;
    }

    private static string? TaskIdOf(JsonNode? output)
    {
        if (output is JsonValue value && value.TryGetValue<string>(out var text))
        {
            try
            {
                output = JsonNode.Parse(text);
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }
        var id = output?["task"]?["id"] ?? output?["id"];
        return id switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v when v.TryGetValue<long>(out var l) => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    private static Run ToProto(RunRow run) => new()
    {
        Id = run.Id,
        ProjectId = run.ProjectId,
        AgentId = run.AgentId,
        Task = run.Task,
        Status = run.Status,
        SourceBranch = run.SourceBranch,
        RunBranch = run.RunBranch,
        CliName = run.CliName,
        CreatedAt = Timestamp.FromDateTimeOffset(run.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(run.UpdatedAt),
        TokensIn = run.TokensIn,
        TokensOut = run.TokensOut,
        CostUsd = run.CostUsd,
        ParentRunId = Nullable(run.ParentRunId),
        Notify = run.Notify,
        SessionId = Nullable(run.SessionId),
        FailureReason = Nullable(run.FailureReason),
    };

    private static Value Nullable(string? text) => text is null ? Value.ForNull() : Value.ForString(text);
}
