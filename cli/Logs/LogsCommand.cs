using System.CommandLine;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Gateway.V1;
using Grpc.Core;

namespace Baton.Cli.Logs;

/// <summary><c>baton logs [-f] [--service S] [--level L]</c>: the gateway's log tail of every service, then live records with -f.</summary>
public static class LogsCommand
{
    private static readonly Option<bool> Follow = new("--follow", "-f") { Description = "Keep printing new records until Ctrl+C" };
    private static readonly Option<string?> Service = new("--service", "-s") { Description = "Only this service (gateway, runs, chat, integrations, git)" };
    private static readonly Option<string?> Level = new("--level", "-l") { Description = "Minimum level" };

    // Without -f the tail ends when the replay is over: the first live record, or a quiet gap after the last replayed one.
    private static readonly TimeSpan QuietAfterTail = TimeSpan.FromMilliseconds(750);
    private static readonly TimeSpan FirstRecordWait = TimeSpan.FromSeconds(5);

    public static Command Create()
    {
        Level.AcceptOnlyFromAmong("trace", "debug", "information", "warning", "error", "critical");
        var command = new Command("logs", "Print the logs of every service (the last hour), and follow them with -f") { Follow, Service, Level };
        command.SetHandler(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(CliContext context)
    {
        var follow = context.Get(Follow);
        var service = context.Get(Service);
        using var call = context.Baton.Logs.StreamLogs(new StreamLogsRequest { IncludeTail = true, Level = context.Get(Level) ?? "" }, cancellationToken: context.Cancellation);
        var stream = call.ResponseStream;
        var first = true;
        while (true)
        {
            bool more;
            if (follow)
            {
                more = await stream.MoveNext(context.Cancellation);
            }
            else
            {
                var next = stream.MoveNext(context.Cancellation);
                var finished = await Task.WhenAny(next, Task.Delay(first ? FirstRecordWait : QuietAfterTail, context.Cancellation));
                if (finished != next)
                {
                    return ExitCodes.Ok;
                }
                more = await next;
            }
            first = false;
            if (!more)
            {
                return ExitCodes.Ok;
            }
            var record = stream.Current;
            if (!follow && !record.Replay)
            {
                return ExitCodes.Ok;
            }
            if (service is not null && !string.Equals(record.Service, service, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            Print(context.Output, record);
        }
    }

    private static void Print(Output output, LogRecord record)
    {
        if (output.IsJson)
        {
            output.JsonLine(record);
            return;
        }
        var line = $"{Output.Time(record.Timestamp)} {record.Service,-12} {Abbreviate(record.Level)} {record.Category}: {record.Message}";
        Console.Out.WriteLine(line);
        if (record.Exception.Length > 0)
        {
            Console.Out.WriteLine(record.Exception);
        }
    }

    private static string Abbreviate(string level) => level.ToLowerInvariant() switch
    {
        "trace" => "trce",
        "debug" => "dbug",
        "information" => "info",
        "warning" => "warn",
        "error" => "fail",
        "critical" => "crit",
        _ => level,
    };
}
