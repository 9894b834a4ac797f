using System.CommandLine;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Runs.V1;

namespace Baton.Cli.Runs;

/// <summary><c>baton run "&lt;task&gt;" --agent A [--follow]</c>: start an agent on a task.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var task = new Argument<string>("task") { Description = "What the agent should do" };
        var agent = new Option<string>("--agent", "-a") { Description = "The agent (id or name)", Required = true };
        var source = new Option<string?>("--source-branch", "-b") { Description = "Branch to start from (default HEAD)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Print the run's events until it ends; exit 1 unless it completed" };
        var command = new Command("run", "Start a run: an agent working on a task in its own git worktree") { task, agent, source, follow };
        command.SetHandler(async context =>
        {
            var found = await Lookup.AgentAsync(context, context.Get(agent));
            var run = await context.Baton.Runs.CreateRunAsync(new CreateRunRequest
            {
                AgentId = found.Id,
                Task = context.Get(task),
                SourceBranch = context.Get(source) ?? "",
            }, cancellationToken: context.Cancellation);
            if (!context.Get(follow))
            {
                context.Output.Done($"run {run.Id} {run.Status} on branch {run.RunBranch} (follow it: baton runs events -f {run.Id})", Output.ToJson(run));
                return ExitCodes.Ok;
            }
            if (!context.Output.IsJson)
            {
                Console.Out.WriteLine($"run {run.Id} {run.Status} on branch {run.RunBranch}");
            }
            var final = await RunEvents.FollowAsync(context, run.Id, 0);
            return final == "completed" ? ExitCodes.Ok : ExitCodes.Error;
        });
        return command;
    }
}
