using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Cli.Terminal;
using Baton.Contracts.Runs.V1;
using Google.Api;
using Google.Protobuf;

namespace Baton.Cli.Sessions;

/// <summary>
/// <c>baton sessions [ls|new|attach|send|history|rm]</c> and <c>baton send</c> (Gestalt's <c>gestalt-send</c>):
/// agent sessions of the config directory's profiles, on the generated <c>SessionsService</c> client.
/// </summary>
public static class SessionsCommands
{
    private static readonly Argument<string> SessionArgument = new("session") { Description = "Session id, e.g. 'Coder 1' (see 'baton sessions ls')" };

    public static Command Create()
    {
        var command = new Command("sessions", "Agent sessions: profiles of the config directory running in a terminal");
        command.Subcommands.Add(List());
        command.Subcommands.Add(New());
        command.Subcommands.Add(Attach());
        command.Subcommands.Add(Send("send"));
        command.Subcommands.Add(History());
        command.Subcommands.Add(Remove());
        command.SetHandler(ListAsync);
        return command;
    }

    /// <summary><c>baton send &lt;session&gt; "text"</c>: types the text into the session and presses Enter.</summary>
    public static Command SendShortcut() => Send("send");

    private static Command List()
    {
        var command = new Command("ls", "List agent sessions");
        command.Aliases.Add("list");
        command.SetHandler(ListAsync);
        return command;
    }

    private static async Task<int> ListAsync(CliContext context)
    {
        var sessions = await context.Baton.Sessions.ListSessionsAsync(new ListSessionsRequest(), cancellationToken: context.Cancellation);
        context.Output.List(sessions.Sessions, ["ID", "STATUS", "RUNNER", "LLM", "MODEL", "TITLE", "CREATED"],
            s => [s.Id, s.Status, s.Runner, s.LlmType, s.Model, s.Title, Output.Time(s.CreatedAt)]);
        return ExitCodes.Ok;
    }

    private static Command New()
    {
        var agent = new Option<string>("--agent", "-a") { Description = "The agent profile (the file stem of agents/<id>.toml)", Required = true };
        var runner = new Option<string?>("--runner") { Description = "server (Baton's PTY, the default) or external (a window on your tmux server)" };
        runner.AcceptOnlyFromAmong("server", "external");
        var title = new Option<string?>("--title") { Description = "A title shown beside the session" };
        var role = new Option<string?>("--role") { Description = "The session's role" };
        var attach = new Option<bool>("--attach") { Description = "Attach your terminal to the new session" };
        var command = new Command("new", "Start a session of an agent profile") { agent, runner, title, role, attach };
        command.Aliases.Add("create");
        command.SetHandler(async context =>
        {
            var created = await context.Baton.Sessions.CreateSessionAsync(new CreateSessionRequest
            {
                Agent = context.Get(agent),
                Runner = context.Get(runner) ?? "",
                Title = context.Get(title) ?? "",
                Role = context.Get(role) ?? "",
            }, cancellationToken: context.Cancellation);
            if (context.Get(attach))
            {
                return await AttachCommand.AttachSessionAsync(context, created.Id);
            }
            context.Output.Done($"started session '{created.Id}' ({created.Runner}): {created.Command}", Output.ToJson(created));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Attach()
    {
        var command = new Command("attach", "Attach your terminal to a session (Ctrl-] detaches, the session keeps going)") { SessionArgument };
        command.SetHandler(context => AttachCommand.AttachSessionAsync(context, context.Get(SessionArgument)));
        return command;
    }

    private static Command Send(string name)
    {
        var text = new Argument<string?>("text") { Description = "What to type; '-' or nothing reads standard input", Arity = ArgumentArity.ZeroOrOne };
        var noEnter = new Option<bool>("--no-enter") { Description = "Type the text without pressing Enter" };
        var command = new Command(name, "Type text into an agent session and press Enter (gestalt-send)") { SessionArgument, text, noEnter };
        command.SetHandler(async context =>
        {
            var id = context.Get(SessionArgument);
            var input = context.Get(text);
            if (input is null or "-")
            {
                input = (await Console.In.ReadToEndAsync(context.Cancellation)).TrimEnd('\n', '\r');
            }
            if (input.Length == 0 && context.Get(noEnter))
            {
                throw CliException.Usage("nothing to send; give the text as an argument or on standard input");
            }
            var sent = await SendInputAsync(context, id, Encoding.UTF8.GetBytes(input));
            if (!context.Get(noEnter))
            {
                // Enter as a keystroke of its own: agent TUIs read "text\r" in one write as a paste and keep the newline in the prompt.
                if (sent > 0)
                {
                    await Task.Delay(EnterDelay, context.Cancellation);
                }
                sent += await SendInputAsync(context, id, "\r"u8.ToArray());
            }
            context.Output.Done($"sent {sent.ToString(CultureInfo.InvariantCulture)} bytes to '{id}'", new JsonObject { ["id"] = id, ["bytes"] = sent });
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The pause between the text and its Enter (Gestalt's enter_key_delay is of this order).</summary>
    private static readonly TimeSpan EnterDelay = TimeSpan.FromMilliseconds(100);

    private static async Task<int> SendInputAsync(CliContext context, string id, byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return 0;
        }
        var result = await context.Baton.Sessions.SendSessionInputAsync(new SessionInputRequest
        {
            Id = id,
            Body = new HttpBody { ContentType = "application/octet-stream", Data = ByteString.CopyFrom(bytes) },
        }, cancellationToken: context.Cancellation);
        return result.Bytes;
    }

    private static Command History()
    {
        var lines = new Option<int?>("--lines", "-n") { Description = "How many lines (default 2000)" };
        var before = new Option<long?>("--before") { Description = "Older lines: the cursor printed by the previous page" };
        var command = new Command("history", "Print a session's output log (plain text, newest page first)") { SessionArgument, lines, before };
        command.SetHandler(async context =>
        {
            var request = new SessionHistoryRequest { Id = context.Get(SessionArgument) };
            if (context.Get(lines) is { } n)
            {
                request.Lines = n.ToString(CultureInfo.InvariantCulture);
            }
            if (context.Get(before) is { } cursor)
            {
                request.BeforeCursor = cursor.ToString(CultureInfo.InvariantCulture);
            }
            var page = await context.Baton.Sessions.GetSessionHistoryAsync(request, cancellationToken: context.Cancellation);
            if (context.Output.IsJson)
            {
                context.Output.Json(Output.ToJson(page));
                return ExitCodes.Ok;
            }
            foreach (var line in page.Lines)
            {
                Console.Out.WriteLine(line);
            }
            if (page.HasCursor)
            {
                await Console.Error.WriteLineAsync($"(older lines: baton sessions history '{page.Id}' --before {page.Cursor.ToString(CultureInfo.InvariantCulture)})");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var command = new Command("rm", "End a session and remove it") { SessionArgument };
        command.SetHandler(async context =>
        {
            var id = context.Get(SessionArgument);
            await context.Baton.Sessions.DeleteSessionAsync(new SessionIdRequest { Id = id }, cancellationToken: context.Cancellation);
            context.Output.Done($"ended session '{id}'", new JsonObject { ["id"] = id, ["action"] = "rm" });
            return ExitCodes.Ok;
        });
        return command;
    }
}
