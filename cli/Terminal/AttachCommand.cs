using System.CommandLine;
using System.Globalization;
using Baton.Cli.Infrastructure;

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
        command.SetHandler(async context =>
        {
            var id = await Lookup.RunIdAsync(context, context.Get(target));
            return await AttachAsync(context, $"/api/terminal?run_id={Uri.EscapeDataString(id)}", $"run {id}", $"baton attach {id}");
        });
        return command;
    }

    internal static async Task<int> AttachAsync(CliContext context, string pathAndQuery, string label, string again)
    {
        var size = Posix.GetWindowSize(Posix.StdIn) ?? Posix.GetWindowSize(Posix.StdOut) ?? (120, 30);
        var query = string.Create(CultureInfo.InvariantCulture, $"{pathAndQuery}&cols={size.Columns}&rows={size.Rows}");
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
