using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Contracts.Git.V1;
using Baton.Runs.Adapters;
using Baton.Runs.Events;
using Baton.Runs.Hooks;
using Baton.Runs.Notifications;
using Baton.Runs.Storage;
using Baton.Runs.Telemetry;
using Baton.ServiceDefaults.Configuration;
using Grpc.Core;

namespace Baton.Runs.Execution;

/// <summary>
/// The lifecycle of runs: a FIFO queue with a concurrency limit, the workspace (through git), the
/// hooks settings, the CLI process and its adapter, user actions (cancel, pause, continue, delete)
/// and restart recovery. Status changes are conditional updates, each followed by its event.
/// </summary>
public sealed partial class RunManager(
    RunsStore store,
    RunEventLog events,
    GitService.GitServiceClient git,
    CliAdapters adapters,
    IAgentProcessLauncher launcher,
    DiscordNotifier notifier,
    RunsConfiguration configuration,
    BatonOptions options,
    AgentTelemetry telemetry,
    TimeProvider time,
    ILogger<RunManager> logger) : IHostedService
{
    public const string RestartReason = "service restarted";

    private static readonly string[] Live = [RunStatus.Running, RunStatus.Paused];
    private static readonly string[] Resumable = [RunStatus.Paused, RunStatus.Completed, RunStatus.Failed, RunStatus.Cancelled];

    private readonly ConcurrentDictionary<string, RunExecution> _executions = new(StringComparer.Ordinal);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private Task _scheduler = Task.CompletedTask;
    // A person taking over a run needs a terminal whichever launcher runs the agents.
    private readonly PtyProcessLauncher _terminalLauncher = new(configuration);

    /// <summary>Processes currently alive (running or paused by a Stop hook).</summary>
    public int ActiveProcesses => _executions.Values.Count(e => e.Process is not null);

    public string RunDirectory(string runId) => Path.Combine(options.ServiceDataDir, runId);

    public string LogPath(string runId) => Path.Combine(RunDirectory(runId), "output.log");

    public IAgentProcess? FindProcess(string runId) => _executions.TryGetValue(runId, out var e) ? e.Process : null;

    public string RunBranch(string runId) => $"{configuration.BranchPrefix}run-{runId.Replace("-", "", StringComparison.Ordinal)[..8]}";

    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    // ---- hosting ----

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var run in await store.ListRunsByStatusAsync(RunStatus.Running, cancellationToken))
        {
            if (await store.TransitionAsync(run.Id, [RunStatus.Running], RunStatus.Failed, time.GetUtcNow(), cancellationToken, RestartReason))
            {
                await events.AppendAsync(run.Id, "run.failed", new JsonObject { ["reason"] = RestartReason }, cancellationToken);
                logger.LogWarning("Run {RunId} was running when the service stopped; marked failed", run.Id);
                _ = SetActiveAsync(run.Id, false);
            }
        }
        _scheduler = Task.Run(() => ScheduleLoopAsync(_stopping.Token), CancellationToken.None);
        Wake();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _wake.Writer.TryComplete();
        // Leave the status as is: the next start marks these runs failed "service restarted".
        await Task.WhenAll(_executions.Values.Select(async execution =>
        {
            execution.StopRequested = true;
            if (execution.Process is { } process)
            {
                await process.TerminateAsync(TimeSpan.FromSeconds(1));
            }
        }));
        try
        {
            await _scheduler;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Wake() => _wake.Writer.TryWrite(true);

    // ---- the queue ----

    private async Task ScheduleLoopAsync(CancellationToken cancellationToken)
    {
        while (await _wake.Reader.WaitToReadAsync(cancellationToken))
        {
            _wake.Reader.TryRead(out _);
            try
            {
                await FillSlotsAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Scheduling queued runs failed");
            }
        }
    }

    private async Task FillSlotsAsync(CancellationToken cancellationToken)
    {
        while (_executions.Count < configuration.MaxConcurrentRuns)
        {
            var queued = await store.ListRunsByStatusAsync(RunStatus.Queued, cancellationToken);
            var next = queued.FirstOrDefault(r => !_executions.ContainsKey(r.Id));
            if (next is null)
            {
                return;
            }
            var execution = new RunExecution(next.Id);
            if (_executions.TryAdd(next.Id, execution))
            {
                _ = Task.Run(() => ExecuteAsync(execution, next, cancellationToken), CancellationToken.None);
            }
        }
    }

    // ---- one invocation of the CLI ----

    private Task ExecuteAsync(RunExecution execution, RunRow run, CancellationToken cancellationToken) =>
        ReleasedWhenDoneAsync(execution, "Run", cancellationToken, async () =>
        {
            var resume = run.PendingMessage is not null;
            PreparedLaunch prepared;
            IAgentProcess process;
            try
            {
                prepared = await PrepareLaunchAsync(run, resume, resume ? run.PendingMessage! : run.Task, cancellationToken);
                var command = BuildCommand(() => prepared.Adapter.BuildCommand(prepared.Launch));
                if (execution.StopRequested)
                {
                    return;
                }
                process = StartProcess(launcher, command, prepared.Cwd, run, columns: 120, rows: 30);
            }
            catch (LaunchFailedException ex)
            {
                await FailAsync(run.Id, ex.Message);
                return;
            }
            execution.Process = process;
            execution.Started.TrySetResult(process);
            await using (process)
            {
                if (!await store.TransitionAsync(run.Id, [RunStatus.Queued], RunStatus.Running, time.GetUtcNow(), cancellationToken, clearPending: true))
                {
                    // Deleted or cancelled while its workspace was being prepared.
                    execution.StopRequested = true;
                    await process.TerminateAsync(configuration.KillGrace);
                    return;
                }
                await events.AppendAsync(run.Id, "run.started", new JsonObject
                {
                    ["cli_name"] = run.CliName,
                    ["pid"] = process.Pid,
                    ["cwd"] = prepared.Cwd,
                    ["resumed"] = resume,
                    ["worktrees"] = new JsonArray([.. prepared.Workspace.Repos.Select(r => (JsonNode)new JsonObject
                    {
                        ["repo_name"] = r.RepoName,
                        ["worktree_path"] = r.WorktreePath,
                        ["branch"] = r.Branch,
                    })]),
                }, cancellationToken);
                await SuperviseAsync(execution, run.Id, process, prepared.Adapter.CreateParser(), cancellationToken);
            }
        });

    /// <summary>Runs one invocation of a run's CLI: a crash fails the run, and the slot is released however it ends.</summary>
    private async Task ReleasedWhenDoneAsync(RunExecution execution, string kind, CancellationToken cancellationToken, Func<Task> invocation)
    {
        try
        {
            await invocation();
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "{Kind} of run {RunId} crashed", kind, execution.RunId);
            await FailAsync(execution.RunId, $"internal error: {ex.Message}");
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await ReleaseAsync(execution, cancellationToken);
        }
    }

    /// <summary>Reads the CLI's output to the end and settles the run by how the process ended.</summary>
    private async Task SuperviseAsync(RunExecution execution, string runId, IAgentProcess process, ICliOutputParser parser, CancellationToken cancellationToken)
    {
        var outcome = await PumpOutputAsync(runId, process, parser, cancellationToken);
        var exitCode = await process.Exited;
        if (!execution.StopRequested)
        {
            await FinishAsync(runId, execution.SessionEnded ? 0 : exitCode, outcome);
        }
    }

    /// <summary>Gives the run's concurrency slot back once its process is gone (or never started).</summary>
    private async Task ReleaseAsync(RunExecution execution, CancellationToken cancellationToken)
    {
        if (!cancellationToken.IsCancellationRequested)
        {
            await SetActiveAsync(execution.RunId, false);
        }
        _executions.TryRemove(execution.RunId, out _);
        execution.Started.TrySetResult(null);
        execution.Done.TrySetResult();
        Wake();
    }

    private sealed record PreparedLaunch(ICliAdapter Adapter, CliLaunch Launch, Workspace Workspace, string Cwd);

    /// <summary>Why a CLI invocation could not start; the run fails with this reason (or the caller is told).</summary>
    private sealed class LaunchFailedException(string reason) : Exception(reason);

    /// <summary>The agent, adapter, workspace and hooks settings of one CLI invocation.</summary>
    private async Task<PreparedLaunch> PrepareLaunchAsync(RunRow run, bool resume, string prompt, CancellationToken cancellationToken)
    {
        var agent = await store.GetAgentAsync(run.AgentId, cancellationToken) ?? throw new LaunchFailedException("the run's agent was deleted");
        var adapter = adapters.Find(run.CliName) ?? throw new LaunchFailedException($"unknown cli_name '{run.CliName}'");
        Workspace workspace;
        try
        {
            workspace = await PrepareWorkspaceAsync(run, resume, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw new LaunchFailedException($"creating the workspace failed: {ex.Status.Detail}");
        }
        var runDirectory = RunDirectory(run.Id);
        var cwd = workspace.Repos.Count > 0 ? workspace.Repos[0].WorktreePath : Directory.CreateDirectory(Path.Combine(runDirectory, "workspace")).FullName;
        var hookSettings = adapter.UsesHooks
            ? await HookSettingsWriter.WriteClaudeSettingsAsync(runDirectory, configuration.PublicUrl, run.Id, cancellationToken)
            : "";
        var providerConfig = JsonNode.Parse(agent.ProviderConfigJson) as JsonObject ?? [];
        var launch = new CliLaunch(
            run.Id, prompt, resume ? run.SessionId : null, agent.Model, agent.Instructions,
            agent.AllowedTools, agent.MaxTurns, providerConfig, cwd, [.. workspace.Repos.Skip(1).Select(r => r.WorktreePath)],
            runDirectory, hookSettings);
        return new PreparedLaunch(adapter, launch, workspace, cwd);
    }

    private static CliCommand BuildCommand(Func<CliCommand> build)
    {
        try
        {
            return build();
        }
        catch (InvalidOperationException ex)
        {
            throw new LaunchFailedException(ex.Message);
        }
    }

    private IAgentProcess StartProcess(IAgentProcessLauncher processLauncher, CliCommand command, string cwd, RunRow run, int columns, int rows)
    {
        // The CLI's own telemetry goes to Baton's OTLP receiver, tagged with the run (an agent's env may override it).
        var environment = AgentTelemetry.Merge(telemetry.ForRun(run.Id), command.Environment);
        environment["BATON_RUN_ID"] = run.Id;
        environment[HookSettingsWriter.SecretVariable] = run.HookSecret;
        environment["BATON_HOOK_URL"] = $"{configuration.PublicUrl}/api/runs/{run.Id}/hook";
        environment["TERM"] = "xterm-256color";
        try
        {
            return processLauncher.Start(new AgentProcessOptions(command.FileName, command.Arguments, cwd, environment, LogPath(run.Id), columns, rows));
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
            throw new LaunchFailedException($"could not start {command.FileName}: {ex.Message}");
        }
    }

    private async Task<Workspace> PrepareWorkspaceAsync(RunRow run, bool resume, CancellationToken cancellationToken)
    {
        Workspace workspace;
        if (resume)
        {
            workspace = await git.RestoreWorkspaceAsync(new RunRef { RunId = run.Id }, cancellationToken: cancellationToken);
        }
        else
        {
            try
            {
                workspace = await git.CreateWorkspaceAsync(new CreateWorkspaceRequest
                {
                    RunId = run.Id,
                    ProjectId = run.ProjectId,
                    SourceBranch = run.SourceBranch,
                    RunBranch = run.RunBranch,
                }, cancellationToken: cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
            {
                workspace = await git.RestoreWorkspaceAsync(new RunRef { RunId = run.Id }, cancellationToken: cancellationToken);
            }
        }
        await SetActiveAsync(run.Id, true);
        return workspace;
    }

    private sealed class Outcome
    {
        public bool IsError { get; set; }
        public string? Message { get; set; }
        public string? LastMessage { get; set; }
    }

    /// <summary>Splits the CLI's output into lines, runs them through the adapter and persists the events in order, without waiting on each.</summary>
    private async Task<Outcome> PumpOutputAsync(string runId, IAgentProcess process, ICliOutputParser parser, CancellationToken cancellationToken)
    {
        var outcome = new Outcome();
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[32 * 1024];
        var line = new StringBuilder();
        var pending = new List<Task>();
        async Task HandleLineAsync(string text)
        {
            foreach (var adapterEvent in parser.ParseLine(text))
            {
                var payload = adapterEvent.Payload;
                switch (adapterEvent.EventType)
                {
                    case "session.init" when Adapters.Json.String(payload, "session_id") is { Length: > 0 } sessionId:
                        await store.SetSessionIdAsync(runId, sessionId, time.GetUtcNow(), cancellationToken);
                        break;
                    case "agent.message":
                        outcome.LastMessage = Adapters.Json.String(payload, "text");
                        break;
                    case "run.result":
                        await store.AddUsageAsync(runId, Adapters.Json.Long(payload, "tokens_in"), Adapters.Json.Long(payload, "tokens_out"),
                            Adapters.Json.Double(payload, "cost_usd"), time.GetUtcNow(), cancellationToken);
                        if (Adapters.Json.String(payload, "session_id") is { Length: > 0 } resultSession)
                        {
                            await store.SetSessionIdAsync(runId, resultSession, time.GetUtcNow(), cancellationToken);
                        }
                        if (payload["is_error"] is JsonValue e && e.TryGetValue<bool>(out var isError) && isError)
                        {
                            outcome.IsError = true;
                            outcome.Message = Adapters.Json.String(payload, "result") ?? Adapters.Json.String(payload, "subtype");
                        }
                        break;
                }
                pending.Add(events.AppendAsync(runId, adapterEvent.EventType, payload, CancellationToken.None));
            }
            if (pending.Count >= 512)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }

        await foreach (var chunk in process.Output.ReadAllAsync(cancellationToken))
        {
            var bytes = chunk;
            while (!bytes.IsEmpty)
            {
                decoder.Convert(bytes.Span, chars, false, out var used, out var produced, out _);
                bytes = bytes[used..];
                for (var i = 0; i < produced; i++)
                {
                    var c = chars[i];
                    if (c == '\n')
                    {
                        await HandleLineAsync(line.ToString().TrimEnd('\r'));
                        line.Clear();
                    }
                    else
                    {
                        line.Append(c);
                    }
                }
            }
        }
        if (line.Length > 0)
        {
            await HandleLineAsync(line.ToString().TrimEnd('\r'));
        }
        await Task.WhenAll(pending);
        return outcome;
    }

    private async Task FinishAsync(string runId, int exitCode, Outcome outcome)
    {
        var run = await store.GetRunAsync(runId, CancellationToken.None);
        if (run is null || run.Status is not (RunStatus.Running or RunStatus.Paused))
        {
            return;
        }
        if (exitCode == 0 && !outcome.IsError)
        {
            if (await store.TransitionAsync(runId, Live, RunStatus.Completed, time.GetUtcNow(), CancellationToken.None))
            {
                await events.AppendAsync(runId, "run.completed", new JsonObject { ["exit_code"] = exitCode });
                await notifier.NotifyAsync(DiscordNotifier.Kind.RunCompleted, run.Notify,
                    $"✅ Run {Short(runId)} completed: {Truncate(run.Task, 200)}" + (outcome.LastMessage is { } last ? $"\n> {Truncate(last, 200)}" : ""));
            }
            return;
        }
        var reason = outcome.IsError ? outcome.Message ?? "the CLI reported an error" : $"the CLI exited with code {exitCode}";
        await FailAsync(runId, reason, exitCode);
    }

    private async Task FailAsync(string runId, string reason, int? exitCode = null)
    {
        if (await store.TransitionAsync(runId, [RunStatus.Queued, RunStatus.Running, RunStatus.Paused], RunStatus.Failed, time.GetUtcNow(), CancellationToken.None, reason))
        {
            var payload = new JsonObject { ["reason"] = reason };
            if (exitCode is not null)
            {
                payload["exit_code"] = exitCode;
            }
            await events.AppendAsync(runId, "run.failed", payload);
            await notifier.NotifyAsync(DiscordNotifier.Kind.RunFailed, false, $"❌ Run {Short(runId)} failed: {Truncate(reason, 200)}");
        }
    }

    private async Task SetActiveAsync(string runId, bool active)
    {
        try
        {
            await git.SetRunActiveAsync(new SetRunActiveRequest { RunId = runId, Active = active }, deadline: DateTime.UtcNow.AddSeconds(10));
        }
        catch (RpcException ex)
        {
            logger.LogWarning("Telling git run {RunId} is {State} failed: {Detail}", runId, active ? "active" : "inactive", ex.Status.Detail);
        }
    }

    internal static string Short(string runId) => runId.Length >= 8 ? runId[..8] : runId;

    internal static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    /// <summary>A run holding a concurrency slot: from being picked off the queue until its process was reaped.</summary>
    private sealed class RunExecution(string runId)
    {
        public string RunId { get; } = runId;
        public volatile bool StopRequested;
        /// <summary>The CLI's SessionEnd hook fired: the run completes once the process has exited and its output is drained.</summary>
        public volatile bool SessionEnded;
        public IAgentProcess? Process { get; set; }
        /// <summary>The process once it started; null when it never did.</summary>
        public TaskCompletionSource<IAgentProcess?> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
