using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Baton.ServiceDefaults.Logging;

/// <summary>
/// Log lines stay readable whatever a request carried: every message, attribute and exception is
/// cut at <see cref="MaxLength"/> characters (handlers already quote user input with
/// <c>Input.Quote</c>; this is the net under everything else, library messages included).
/// </summary>
public static class LogText
{
    public const int MaxLength = 8 * 1024;

    public static string Cap(string text) =>
        text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength), "… (", text.Length.ToString("N0", CultureInfo.InvariantCulture), " characters, cut)");
}

/// <summary>The console format of <c>SimpleConsoleFormatter</c> (one line per record, UTC timestamp), with each record capped by <see cref="LogText"/>.</summary>
public sealed class CappedConsoleFormatter(IOptionsMonitor<ConsoleFormatterOptions> options) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "baton";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (string.IsNullOrEmpty(message) && logEntry.Exception is null)
        {
            return;
        }
        var format = options.CurrentValue.TimestampFormat;
        if (format is not null)
        {
            textWriter.Write(DateTimeOffset.UtcNow.ToString(format, CultureInfo.InvariantCulture));
        }
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id.ToString(CultureInfo.InvariantCulture));
        textWriter.Write("] ");
        textWriter.WriteLine(LogText.Cap(message).ReplaceLineEndings(Environment.NewLine + "      "));
        if (logEntry.Exception is not null)
        {
            textWriter.WriteLine(LogText.Cap(logEntry.Exception.ToString()));
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
