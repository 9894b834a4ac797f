using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Cli.Terminal;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;

namespace Baton.Cli.Runs;

/// <summary><c>baton runs [ls|show|events|attach|pause|continue|cancel|diff|commit|push|pr|accept|revert|logs|rm]</c>.</summary>
public static class RunsCommands
{
    public static Command Create()
    {
        var command = new Command("runs", "List, watch, steer and ship runs");
        var (list, listAsync) = List();
        command.Subcommands.Add(list);
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Events());
        command.Subcommands.Add(AttachCommand.Create("attach"));
        command.Subcommands.Add(Simple("pause", "Stop the CLI and checkpoint the worktree (continue resumes it)", async (c, id) =>
        {
            await c.Baton.Runs.PauseRunAsync(new RunIdRequest { Id = id }, cancellationToken: c.Cancellation);
            return $"paused run {id}";
        }));
        command.Subcommands.Add(Continue());
        command.Subcommands.Add(Simple("cancel", "Kill the run's CLI and mark it cancelled", async (c, id) =>
        {
            await c.Baton.Runs.CancelRunAsync(new RunIdRequest { Id = id }, cancellationToken: c.Cancellation);
            return $"cancelled run {id}";
        }));
        command.Subcommands.Add(Diff());
        command.Subcommands.Add(Commit());
        command.Subcommands.Add(GitAction("push", "Push the run's branch", (c, id) => c.Baton.Git.PushRunAsync(new RunRef { RunId = id }, cancellationToken: c.Cancellation).ResponseAsync,
            r => string.Join("\n", r.Results.Select(p => $"pushed {p.Branch} of {p.RepoName} to {p.RemoteUrl}"))));
        command.Subcommands.Add(PullRequest());
        command.Subcommands.Add(GitAction("accept", "Accept the run: push its branch", (c, id) => c.Baton.Git.AcceptRunAsync(new RunRef { RunId = id }, cancellationToken: c.Cancellation).ResponseAsync,
            r => string.Join("\n", r.Results.Select(p => $"accepted: pushed {p.Branch} of {p.RepoName} to {p.RemoteUrl}"))));
        command.Subcommands.Add(GitAction("revert", "Reset the run's worktrees to their base commit", (c, id) => c.Baton.Git.RevertRunAsync(new RunRef { RunId = id }, cancellationToken: c.Cancellation).ResponseAsync,
            w => string.Join("\n", w.Repos.Select(r => $"reverted {r.RepoName} to {Short(r.BaseCommit)}"))));
        command.Subcommands.Add(Logs());
        command.Subcommands.Add(Simple("rm", "Delete a run that is not running (worktrees, branch, events, log)", async (c, id) =>
        {
            await c.Baton.Runs.DeleteRunAsync(new RunIdRequest { Id = id }, cancellationToken: c.Cancellation);
            return $"deleted run {id}";
        }));
        command.SetHandler(c => listAsync(c));
        return command;
    }

    private static readonly Argument<string> RunArgument = new("run") { Description = "Run id (or a unique prefix of one)" };

    private static (Command, Func<CliContext, Task<int>>) List()
    {
        var project = new Option<string?>("--project", "-p") { Description = "Only this project's runs (id or name)" };
        var status = new Option<string?>("--status") { Description = "Only runs in this status" };
        status.AcceptOnlyFromAmong("queued", "running", "paused", "completed", "failed", "cancelled");
        var command = new Command("ls", "List runs, newest first") { project, status };
        command.Aliases.Add("list");
        async Task<int> ListAsync(CliContext context)
        {
            var request = new ListRunsRequest { Status = context.Get(status) ?? "" };
            if (context.Get(project) is { } p)
            {
                request.ProjectId = (await Lookup.ProjectAsync(context, p)).Id;
            }
            var runs = await context.Baton.Runs.ListRunsAsync(request, cancellationToken: context.Cancellation);
            context.Output.List(runs.Runs, ["ID", "STATUS", "CLI", "BRANCH", "TASK", "CREATED"],
                r => [r.Id, r.Status, r.CliName, r.RunBranch, Clip(r.Task, 50), Output.Time(r.CreatedAt)]);
            return ExitCodes.Ok;
        }
        command.SetHandler(ListAsync);
        return (command, ListAsync);
    }

    private static Command Show()
    {
        var command = new Command("show", "Show a run") { RunArgument };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var r = await context.Baton.Runs.GetRunAsync(new RunIdRequest { Id = id }, cancellationToken: context.Cancellation);
            context.Output.Object(r, ("id", r.Id), ("status", r.Status), ("task", r.Task), ("project", r.ProjectId), ("agent", r.AgentId),
                ("cli", r.CliName), ("branch", $"{r.RunBranch} (from {r.SourceBranch})"), ("session", Output.Text(r.SessionId)),
                ("failure", Output.Text(r.FailureReason)),
                ("tokens", string.Create(CultureInfo.InvariantCulture, $"{r.TokensIn} in, {r.TokensOut} out, ${r.CostUsd:0.####}")),
                ("created", Output.Time(r.CreatedAt)), ("updated", Output.Time(r.UpdatedAt)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Events()
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new events until the run ends" };
        var after = new Option<long>("--after") { Description = "Only events after this id (resume where you left off)" };
        var command = new Command("events", "Print a run's events (-f: then follow them live)") { RunArgument, follow, after };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            if (context.Get(follow))
            {
                await RunEvents.FollowAsync(context, id, context.Get(after));
                return ExitCodes.Ok;
            }
            var events = await context.Baton.Runs.ListRunEventsAsync(new ListRunEventsRequest { Id = id, AfterId = context.Get(after) }, cancellationToken: context.Cancellation);
            if (context.Output.IsJson)
            {
                context.Output.Json(new JsonArray(events.Events.Select(e => (JsonNode?)Output.ToJson(e)).ToArray()));
                return ExitCodes.Ok;
            }
            foreach (var e in events.Events)
            {
                RunEvents.Print(context.Output, e);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Continue()
    {
        var message = new Option<string?>("--message", "-m") { Description = "What to tell the agent" };
        var command = new Command("continue", "Resume a paused or finished run with a message") { RunArgument, message };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var run = await context.Baton.Runs.ContinueRunAsync(new ContinueRunRequest { Id = id, Message = context.Get(message) ?? "" }, cancellationToken: context.Cancellation);
            context.Output.Done($"run {run.Id} {run.Status}", Output.ToJson(run));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Diff()
    {
        var stat = new Option<bool>("--stat") { Description = "Only the counts of changed files, insertions and deletions" };
        var command = new Command("diff", "Show the changes the run made (a unified diff)") { RunArgument, stat };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            if (context.Get(stat))
            {
                var stats = await context.Baton.Git.GetRunDiffStatsAsync(new RunRef { RunId = id }, cancellationToken: context.Cancellation);
                context.Output.Done($"{stats.FilesChanged} files changed, {stats.Insertions} insertions(+), {stats.Deletions} deletions(-)", Output.ToJson(stats));
                return ExitCodes.Ok;
            }
            var changes = await context.Baton.Git.GetRunChangesAsync(new RunRef { RunId = id }, cancellationToken: context.Cancellation);
            if (context.Output.IsJson)
            {
                context.Output.Json(Output.ToJson(changes));
            }
            else
            {
                Console.Out.Write(changes.Diff);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Commit()
    {
        var message = new Option<string>("--message", "-m") { Description = "Commit message", Required = true };
        var command = new Command("commit", "Commit the run's uncommitted changes") { RunArgument, message };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var result = await context.Baton.Git.CommitRunAsync(new CommitRunRequest { RunId = id, Message = context.Get(message) }, cancellationToken: context.Cancellation);
            context.Output.Done(result.Commits.Count == 0 ? "nothing to commit" : string.Join("\n", result.Commits.Select(c => $"committed {Short(c.Commit)} in {c.RepoName}")),
                Output.ToJson(result));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command PullRequest()
    {
        var title = new Option<string>("--title", "-t") { Description = "Pull request title", Required = true };
        var body = new Option<string?>("--body") { Description = "Pull request description" };
        var target = new Option<string?>("--base") { Description = "Target branch (default: the repository's default branch)" };
        var command = new Command("pr", "Open a pull request for the run's branch") { RunArgument, title, body, target };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var result = await context.Baton.Git.CreatePullRequestAsync(new CreatePullRequestRequest
            {
                RunId = id,
                Title = context.Get(title),
                Body = context.Get(body) ?? "",
                Base = context.Get(target) ?? "",
            }, cancellationToken: context.Cancellation);
            context.Output.Done(string.Join("\n", result.Results.Select(p => $"{p.RepoName}: #{p.PrNumber} {p.PrUrl}")),
                new JsonArray(result.Results.Select(p => (JsonNode?)Output.ToJson(p)).ToArray()));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Logs()
    {
        var command = new Command("logs", "Print the run's raw terminal output") { RunArgument };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var body = await context.Baton.Runs.GetRunLogsAsync(new RunIdRequest { Id = id }, cancellationToken: context.Cancellation);
            using var stdout = Console.OpenStandardOutput();
            body.Data.WriteTo(stdout);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Simple(string name, string description, Func<CliContext, string, Task<string>> action)
    {
        var command = new Command(name, description) { RunArgument };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var sentence = await action(context, id);
            context.Output.Done(sentence, new JsonObject { ["id"] = id, ["action"] = name });
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GitAction<T>(string name, string description, Func<CliContext, string, Task<T>> action, Func<T, string> describe) where T : Google.Protobuf.IMessage
    {
        var command = new Command(name, description) { RunArgument };
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(RunArgument));
            var result = await action(context, id);
            context.Output.Done(describe(result), Output.ToJson(result));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;

    private static string Clip(string text, int length)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= length ? line : line[..(length - 1)] + "…";
    }
}
