using System.CommandLine;
using System.Globalization;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Runs.V1;

namespace Baton.Cli.Terminal;

/// <summary>
/// <c>baton attach &lt;run&gt;</c>: the run's PTY in your own terminal. Raw mode, the recent output first,
/// resize on SIGWINCH, <c>Ctrl-]</c> detaches and leaves the process running; the terminal is restored
/// on every way out (detach, the process ending, a dropped connection, a signal, an exception).
/// </summary>
public static class AttachCommand
{
    public static Command Create(string name = "attach")
    {
        var target = new Argument<string>("run") { Description = "Run id (or a unique prefix of one)" };
        var command = new Command(name, "Attach your terminal to a run's PTY (Ctrl-] detaches, the run keeps going)") { target };
        command.SetHandler(async context => await AttachRunAsync(context, await Lookup.RunIdAsync(context, context.Get(target))));
        return command;
    }

    /// <summary><c>baton attach &lt;run|session&gt;</c>: a session id (<c>"Coder 1"</c>) names a session, anything else a run.</summary>
    public static Command CreateForRunOrSession()
    {
        var target = new Argument<string>("target") { Description = "A run id (or a unique prefix of one) or an agent session id such as 'Coder 1'" };
        var command = new Command("attach", "Attach your terminal to a run's or an agent session's PTY (Ctrl-] detaches, the process keeps going)") { target };
        command.SetHandler(async context =>
        {
            var reference = context.Get(target);
            if (!Guid.TryParse(reference, out _))
            {
                var sessions = await context.Baton.Sessions.ListSessionsAsync(new ListSessionsRequest(), cancellationToken: context.Cancellation);
                if (sessions.Sessions.Any(s => s.Id == reference))
                {
                    return await AttachSessionAsync(context, reference);
                }
            }
            try
            {
                return await AttachRunAsync(context, await Lookup.RunIdAsync(context, reference));
            }
            catch (CliException ex) when (ex.ExitCode == ExitCodes.NotFound)
            {
                throw CliException.NotFound($"no run or session '{reference}'; 'baton runs ls' and 'baton sessions ls' list them");
            }
        });
        return command;
    }

    public static Task<int> AttachRunAsync(CliContext context, string runId) =>
        AttachAsync(context, $"/api/terminal?run_id={Uri.EscapeDataString(runId)}", $"run {runId}", $"baton attach {runId}");

    public static Task<int> AttachSessionAsync(CliContext context, string sessionId) =>
        AttachAsync(context, $"/ws/session/{Uri.EscapeDataString(sessionId)}", $"session {sessionId}", $"baton attach '{sessionId}'");

    internal static async Task<int> AttachAsync(CliContext context, string pathAndQuery, string label, string again)
    {
        var size = Posix.GetWindowSize(Posix.StdIn) ?? Posix.GetWindowSize(Posix.StdOut) ?? (120, 30);
        var query = string.Create(CultureInfo.InvariantCulture, $"{pathAndQuery}{(pathAndQuery.Contains('?', StringComparison.Ordinal) ? '&' : '?')}cols={size.Columns}&rows={size.Rows}");
        using var socket = await context.Baton.ConnectWebSocketAsync(query, context.Cancellation);
        var session = new AttachSession(socket);
        AttachEnding ending;
        using (var raw = RawTerminal.Enter())
        {
            // Announced once raw mode is on, so keys typed after the banner are never echoed twice.
            if (raw is not null)
            {
                Posix.WriteText(Posix.StdErr, $"attached to {label}; Ctrl-] detaches\r\n");
            }
            ending = await session.RunAsync(context.Cancellation);
        }
        // The terminal is cooked again from here on.
        switch (ending)
        {
            case AttachEnding.Detached:
                Posix.WriteText(Posix.StdErr, $"\ndetached from {label}; it keeps running ('{again}' to come back)\n");
                return ExitCodes.Ok;
            case AttachEnding.Closed:
                Posix.WriteText(Posix.StdErr, $"\nterminal of {label} closed{(session.CloseReason.Length > 0 ? ": " + session.CloseReason : "")}\n");
                return ExitCodes.Ok;
            case AttachEnding.Interrupted:
                return ExitCodes.Ok;
            default:
                throw new CliException(ExitCodes.Error,
                    $"connection to Baton lost ({ErrorTranslation.OneLine(session.CloseReason.Length > 0 ? session.CloseReason : "closed")}); the process keeps running, '{again}' reconnects");
        }
    }
}
