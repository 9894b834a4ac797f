using System.CommandLine;
using System.Runtime.InteropServices;

namespace Baton.Cli.Infrastructure;

/// <summary>Parses, runs one command, and turns every failure into one line on stderr and an exit code.</summary>
public static class CliApp
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        var isDirective = args.Length > 0 && args[0].StartsWith('[');
        if (parse.Errors.Count > 0 && !isDirective)
        {
            var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? ["baton"] : CommandPath(parse.CommandResult.Command));
            await Console.Error.WriteLineAsync($"error: {ErrorTranslation.OneLine(parse.Errors[0].Message).TrimEnd('.')}; see '{command} --help'");
            return ExitCodes.Usage;
        }
        // Ctrl+C and SIGTERM cancel the running command, which then restores whatever it changed
        // (a raw terminal above all); a second signal ends the process at once.
        using var interrupted = new CancellationTokenSource();
        void Cancel(PosixSignalContext context)
        {
            context.Cancel = !interrupted.IsCancellationRequested;
            interrupted.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupted.Token);
    }

    /// <summary>Runs a command's action with the one-line error policy.</summary>
    public static void SetHandler(this Command command, Func<CliContext, Task<int>> action) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var context = new CliContext(parse, cancellationToken);
            try
            {
                return await action(context);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Interrupted by the person at the keyboard: not a failure worth a message.
                return ExitCodes.Ok;
            }
            catch (Exception ex)
            {
                if (ex is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled } && cancellationToken.IsCancellationRequested)
                {
                    return ExitCodes.Ok;
                }
                var error = ErrorTranslation.Translate(ex, context.ResolvedConnection);
                await Console.Error.WriteLineAsync("error: " + error.Message);
                if (Environment.GetEnvironmentVariable("BATON_DEBUG") == "1")
                {
                    await Console.Error.WriteLineAsync(ex.ToString());
                }
                return error.ExitCode;
            }
        });

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new Stack<string>();
        for (Symbol? current = command; current is not null; current = current.Parents.FirstOrDefault())
        {
            names.Push(current is RootCommand ? "baton" : current.Name);
        }
        return names;
    }
}
