using System.Text.Json.Nodes;
using Baton.Pty;
using Baton.Runs.Storage;
using Grpc.Core;

namespace Baton.Runs.Execution;

public sealed partial class RunManager
{
    /// <summary>
    /// NOTES §5.5: a terminal opened on an active run that has no PTY gets one. A paused run has no
    /// process (pause killed it), so its CLI is resumed in its own interactive UI on the run's session
    /// and worktree, with the run's hooks: a person takes over where the agent stopped. The process
    /// becomes the run's, so prompts typed there move the run to running and back to paused, pause,
    /// continue and cancel act on it, and it outlives the viewer that opened it.
    /// </summary>
    /// <returns>The terminal, or null when the run has nothing to resume (not paused, no session, or a CLI without an interactive mode).</returns>
    public async Task<TerminalSession?> OpenInteractiveAsync(string runId, int columns, int rows, CancellationToken ct)
    {
        if (_executions.TryGetValue(runId, out var existing))
        {
            // Another viewer is opening it right now, or the run is live already.
            return (await existing.Started.Task.WaitAsync(ct))?.Terminal;
        }
        var run = await GetAsync(runId, ct);
        if (run.Status != RunStatus.Paused || string.IsNullOrEmpty(run.SessionId) || adapters.Find(run.CliName)?.CanResumeInteractively != true)
        {
            return null;
        }
        var execution = new RunExecution(runId);
        if (!_executions.TryAdd(runId, execution))
        {
            return await OpenInteractiveAsync(runId, columns, rows, ct);
        }
        if ((await store.GetRunAsync(runId, ct))?.Status != RunStatus.Paused)
        {
            // Continued, cancelled or deleted between the check and taking the slot.
            await ReleaseAsync(execution, CancellationToken.None);
            return null;
        }

        IAgentProcess process;
        PreparedLaunch prepared;
        try
        {
            prepared = await PrepareLaunchAsync(run, resume: true, prompt: "", ct);
            var command = BuildCommand(() => prepared.Adapter.BuildInteractiveCommand(prepared.Launch));
            process = StartProcess(_terminalLauncher, command, prepared.Cwd, run, columns, rows);
        }
        catch (Exception ex)
        {
            await ReleaseAsync(execution, CancellationToken.None);
            if (ex is LaunchFailedException)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"could not resume the run's session in a terminal: {ex.Message}"));
            }
            throw;
        }
        execution.Process = process;
        execution.Started.TrySetResult(process);
        await events.AppendAsync(runId, "terminal.started", new JsonObject
        {
            ["cli_name"] = run.CliName,
            ["pid"] = process.Pid,
            ["cwd"] = prepared.Cwd,
            ["session_id"] = run.SessionId,
            ["interactive"] = true,
        }, CancellationToken.None);
        _ = Task.Run(() => SuperviseInteractiveAsync(execution, process, prepared.Adapter), CancellationToken.None);
        return process.Terminal;
    }

    private Task SuperviseInteractiveAsync(RunExecution execution, IAgentProcess process, Adapters.ICliAdapter adapter) =>
        ReleasedWhenDoneAsync(execution, "Interactive session", _stopping.Token, async () =>
        {
            await using (process)
            {
                // The terminal UI prints no stream-json; the adapter finds no events in it, and the hooks report.
                await SuperviseAsync(execution, execution.RunId, process, adapter.CreateParser(), _stopping.Token);
            }
        });
}
