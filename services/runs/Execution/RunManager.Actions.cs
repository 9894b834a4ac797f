using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;
using Baton.Runs.Notifications;
using Baton.Runs.Storage;
using Baton.ServiceDefaults.Security;
using Baton.ServiceDefaults.Validation;
using Grpc.Core;

namespace Baton.Runs.Execution;

public sealed partial class RunManager
{
    public async Task<RunRow> CreateAsync(string agentId, string task, string? sourceBranch, string? parentRunId, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(agentId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "agent_id is required"));
        }
        if (string.IsNullOrWhiteSpace(task))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "task is required"));
        }
        Input.Optional(agentId, "agent_id", Limits.Id);
        Input.Text(task, "task");
        Input.Optional(sourceBranch, "source_branch", Limits.Id);
        Input.Optional(parentRunId, "parent_run_id", Limits.Id);
        var agent = await store.GetAgentAsync(agentId, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"agent {agentId} not found"));
        var id = Guid.NewGuid().ToString();
        var now = time.GetUtcNow();
        var run = new RunRow(id, agent.ProjectId, agent.Id, task, RunStatus.Queued, string.IsNullOrWhiteSpace(sourceBranch) ? "HEAD" : sourceBranch,
            RunBranch(id), agent.CliName, now, now, 0, 0, 0, string.IsNullOrWhiteSpace(parentRunId) ? null : parentRunId, false, null, null,
            NewSecret(), null, store.NextQueueOrder());
        await store.InsertRunAsync(run, ct);
        await events.AppendAsync(id, "run.created", new JsonObject
        {
            ["task"] = task,
            ["source_branch"] = run.SourceBranch,
            ["run_branch"] = run.RunBranch,
            ["agent_id"] = agent.Id,
            ["cli_name"] = agent.CliName,
        }, ct);
        Wake();
        return run;
    }

    public async Task<RunRow> GetAsync(string runId, CancellationToken ct) =>
        await store.GetRunAsync(runId, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"run {runId} not found"));

    public async Task CancelAsync(string runId, CancellationToken ct)
    {
        var run = await GetAsync(runId, ct);
        _executions.TryGetValue(runId, out var execution);
        if (run.Status != RunStatus.Running && execution?.Process is null)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"run is {run.Status}: only a running run can be cancelled"));
        }
        await StopProcessAsync(execution);
        if (await store.TransitionAsync(runId, [RunStatus.Running, RunStatus.Paused, RunStatus.Queued], RunStatus.Cancelled, time.GetUtcNow(), ct))
        {
            await events.AppendAsync(runId, "run.cancelled", [], ct);
        }
    }

    public async Task PauseAsync(string runId, CancellationToken ct)
    {
        var run = await GetAsync(runId, ct);
        _executions.TryGetValue(runId, out var execution);
        if (run.Status != RunStatus.Running && execution?.Process is null)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"run is {run.Status}: only a running run can be paused"));
        }
        await StopProcessAsync(execution);
        var payload = new JsonObject();
        try
        {
            var checkpoint = await git.CheckpointWorkspaceAsync(
                new CheckpointWorkspaceRequest { RunId = runId, Message = $"baton: checkpoint of run {Short(runId)} (paused)" }, cancellationToken: ct);
            payload["checkpoint"] = new JsonArray([.. checkpoint.Commits.Select(c => (JsonNode)new JsonObject { ["repo_name"] = c.RepoName, ["commit"] = c.Commit })]);
        }
        catch (RpcException ex)
        {
            logger.LogWarning("Checkpointing run {RunId} failed: {Detail}", runId, ex.Status.Detail);
            payload["checkpoint_error"] = ex.Status.Detail;
        }
        if (await store.TransitionAsync(runId, [RunStatus.Running, RunStatus.Paused], RunStatus.Paused, time.GetUtcNow(), ct))
        {
            await events.AppendAsync(runId, "run.paused", payload, ct);
        }
    }

    public async Task<RunRow> ContinueAsync(string runId, string? message, CancellationToken ct)
    {
        Input.Text(message, "message");
        var run = await GetAsync(runId, ct);
        if (string.IsNullOrEmpty(run.SessionId))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "run has no session_id to resume"));
        }
        if (run.Status is RunStatus.Running or RunStatus.Queued)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"run is {run.Status}: only a paused, completed, failed or cancelled run can be continued"));
        }
        if (_executions.TryGetValue(runId, out var execution))
        {
            // Paused by its Stop hook with the CLI still alive: replace that process.
            await StopProcessAsync(execution);
        }
        var text = string.IsNullOrWhiteSpace(message) ? "continue" : message;
        if (!await store.TransitionAsync(runId, Resumable, RunStatus.Queued, time.GetUtcNow(), ct, pendingMessage: text, queueOrder: store.NextQueueOrder()))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "run changed status meanwhile; try again"));
        }
        await events.AppendAsync(runId, "user.message", new JsonObject { ["message"] = text }, ct);
        Wake();
        return await GetAsync(runId, ct);
    }

    public async Task NotifyAsync(string runId, bool notify, CancellationToken ct)
    {
        await GetAsync(runId, ct);
        await store.SetNotifyAsync(runId, notify, time.GetUtcNow(), ct);
    }

    public async Task DeleteAsync(string runId, CancellationToken ct)
    {
        var run = await GetAsync(runId, ct);
        if (run.Status == RunStatus.Running || _executions.ContainsKey(runId))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "cannot delete a running run: cancel it first"));
        }
        await RemoveRunAsync(runId, ct);
    }

    /// <summary>Deletes everything of a run that is not running: workspaces and branch (git), events, run folder, row.</summary>
    public async Task RemoveRunAsync(string runId, CancellationToken ct)
    {
        try
        {
            await git.DeleteWorkspaceAsync(new RunRef { RunId = runId }, cancellationToken: ct);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
        }
        catch (RpcException ex)
        {
            logger.LogWarning("Deleting the workspace of run {RunId} failed: {Detail}", runId, ex.Status.Detail);
        }
        await events.DeleteAsync(runId, ct);
        try
        {
            if (Directory.Exists(RunDirectory(runId)))
            {
                Directory.Delete(RunDirectory(runId), recursive: true);
            }
        }
        catch (IOException ex)
        {
            logger.LogWarning(ex, "Deleting the folder of run {RunId} failed", runId);
        }
        await store.DeleteRunAsync(runId, ct);
    }

    /// <summary>True while one of the project's runs is queued or running.</summary>
    public async Task<bool> HasActiveRunsAsync(string projectId, CancellationToken ct)
    {
        var runs = await store.ListRunsAsync(projectId, null, ct);
        return runs.Any(r => r.Status is RunStatus.Queued or RunStatus.Running || _executions.ContainsKey(r.Id));
    }

    private async Task StopProcessAsync(RunExecution? execution)
    {
        if (execution is null)
        {
            return;
        }
        execution.StopRequested = true;
        if (execution.Process is { } process)
        {
            await process.TerminateAsync(configuration.KillGrace);
        }
        await execution.Done.Task.WaitAsync(configuration.KillGrace + TimeSpan.FromSeconds(10));
    }

    // ---- hooks (NOTES §5.3) ----

    /// <summary>Maps one hook call of the run's CLI; returns the JSON the hook answers with.</summary>
    public async Task<JsonObject> HandleHookAsync(string runId, string? secret, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var run = await GetAsync(runId, ct);
        if (!SecretComparer.AreEqual(secret, run.HookSecret))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or wrong run hook secret"));
        }
        var hook = StrictJson.ParseObject(body.Span, "the hook body");
        var name = Adapters.Json.String(hook, "hook_event_name") ?? Adapters.Json.String(hook, "event_name") ?? Adapters.Json.String(hook, "hookEventName") ?? "unknown";
        // Hooks fired while Baton itself stops the CLI (cancel, pause, continue) must not change the status.
        var statusEffects = !(_executions.TryGetValue(runId, out var execution) && execution.StopRequested);
        var toolUseId = Adapters.Json.String(hook, "tool_use_id");
        switch (name)
        {
            case "PreToolUse":
                await events.AppendAsync(runId, "agent.tool_call", new JsonObject
                {
                    ["tool"] = Adapters.Json.String(hook, "tool_name"),
                    ["input"] = hook["tool_input"]?.DeepClone(),
                    ["tool_use_id"] = toolUseId,
                }, ct);
                break;
            case "PostToolUse":
                await events.AppendAsync(runId, "agent.tool_result", new JsonObject
                {
                    ["tool"] = Adapters.Json.String(hook, "tool_name"),
                    ["output"] = hook["tool_response"]?.DeepClone(),
                    ["tool_use_id"] = toolUseId,
                }, ct);
                break;
            case "PostToolUseFailure":
                await events.AppendAsync(runId, "agent.tool_result", new JsonObject
                {
                    ["tool"] = Adapters.Json.String(hook, "tool_name"),
                    ["error"] = hook["error"]?.DeepClone(),
                    ["tool_use_id"] = toolUseId,
                }, ct);
                break;
            case "Notification":
                var type = Adapters.Json.String(hook, "notification_type");
                if (type is "permission_prompt" or "idle_prompt")
                {
                    var message = Adapters.Json.String(hook, "message") ?? "";
                    await events.AppendAsync(runId, "agent.needs_attention", new JsonObject
                    {
                        ["notification_type"] = type,
                        ["message"] = message,
                        ["title"] = Adapters.Json.String(hook, "title"),
                    }, ct);
                    await notifier.NotifyAsync(DiscordNotifier.Kind.NeedsAttention, run.Notify,
                        $"⚠️ Run {Short(runId)} needs attention ({type}): {Truncate(message, 200)}", ct);
                }
                break;
            case "PermissionRequest":
                break;
            case "SubagentStart":
            case "SubagentStop":
                await events.AppendAsync(runId, name == "SubagentStart" ? "agent.subagent_start" : "agent.subagent_stop", new JsonObject
                {
                    ["agent_type"] = Adapters.Json.String(hook, "agent_type"),
                    ["agent_id"] = Adapters.Json.String(hook, "agent_id"),
                }, ct);
                break;
            case "UserPromptSubmit":
                if (statusEffects && await store.TransitionAsync(runId, [RunStatus.Paused], RunStatus.Running, time.GetUtcNow(), ct))
                {
                    await events.AppendAsync(runId, "run.started", new JsonObject { ["source"] = "hook" }, ct);
                }
                break;
            case "Stop":
                if (statusEffects && await store.TransitionAsync(runId, [RunStatus.Running], RunStatus.Paused, time.GetUtcNow(), ct))
                {
                    var last = Adapters.Json.String(hook, "last_assistant_message");
                    await events.AppendAsync(runId, "run.paused", new JsonObject { ["source"] = "hook", ["last_assistant_message"] = last }, ct);
                    await notifier.NotifyAsync(DiscordNotifier.Kind.RunCompleted, run.Notify,
                        $"💤 Run {Short(runId)} is idle" + (last is null ? "" : $": {Truncate(last, 200)}"), ct);
                }
                break;
            case "StopFailure":
                if (statusEffects)
                {
                    var reason = Adapters.Json.String(hook, "error") ?? Adapters.Json.String(hook, "error_type") ?? "the CLI stopped with an error";
                    await FailAsync(runId, reason);
                }
                break;
            case "SessionEnd" when statusEffects && execution?.Process is not null:
                // The CLI is still draining its output: it completes when it exits, so run.completed stays the last event.
                execution.SessionEnded = true;
                break;
            case "SessionEnd":
                if (statusEffects && await store.TransitionAsync(runId, Live, RunStatus.Completed, time.GetUtcNow(), ct))
                {
                    await events.AppendAsync(runId, "run.completed", new JsonObject { ["source"] = "hook", ["reason"] = Adapters.Json.String(hook, "reason") }, ct);
                    await notifier.NotifyAsync(DiscordNotifier.Kind.RunCompleted, run.Notify, $"✅ Run {Short(runId)} completed: {Truncate(run.Task, 200)}", ct);
                }
                break;
            case "SessionStart":
                await events.AppendAsync(runId, "hook.SessionStart", hook, ct);
                if (run.CliName == "codex")
                {
                    return new JsonObject { ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = "SessionStart", ["additionalContext"] = "" } };
                }
                break;
            default:
                // Unknown (or newer) hook events are kept, not rejected.
                await events.AppendAsync(runId, $"hook.{name}", hook, ct);
                break;
        }
        return [];
    }
}
