using System.Threading.Channels;
using Baton.ServiceDefaults.Events;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Baton.ServiceDefaults.Logging;

/// <summary>One structured log record as carried on the bus to the gateway's live log streams.</summary>
public sealed record LogMessage(
    DateTimeOffset Timestamp, string Service, string Level, string Category, string Message,
    string? Exception, Dictionary<string, string> Attributes);

public static class LogTopics
{
    public static readonly EventTopic<LogMessage> Logs = new("logs");
}

/// <summary>
/// Forwards this process's log records to the event bus. Logging never waits on Redis: records
/// go to a bounded buffer that drops the oldest when the bus is slow or down.
/// </summary>
public sealed class LogForwardingProvider(string serviceName) : ILoggerProvider
{
    private readonly Channel<LogMessage> _buffer = Channel.CreateBounded<LogMessage>(
        new BoundedChannelOptions(4096) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    internal ChannelReader<LogMessage> Reader => _buffer.Reader;

    public ILogger CreateLogger(string categoryName) => new ForwardingLogger(categoryName, this);

    public void Dispose() => _buffer.Writer.TryComplete();

    private void Write(LogMessage message) => _buffer.Writer.TryWrite(message);

    private sealed class ForwardingLogger(string category, LogForwardingProvider provider) : ILogger
    {
        // The bus's own client logs would otherwise feed back into the bus.
        private readonly bool _suppressed = category.StartsWith("StackExchange.Redis", StringComparison.Ordinal)
            || category.StartsWith(typeof(RedisEventBus).FullName!, StringComparison.Ordinal)
            || category.StartsWith(typeof(LogForwardingService).FullName!, StringComparison.Ordinal);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => !_suppressed && logLevel >= LogLevel.Information && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            if (state is IReadOnlyList<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    if (key != "{OriginalFormat}")
                    {
                        attributes[key] = LogText.Cap(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "");
                    }
                }
            }
            provider.Write(new LogMessage(DateTimeOffset.UtcNow, provider._serviceName, logLevel.ToString(), category,
                LogText.Cap(formatter(state, exception)), exception is null ? null : LogText.Cap(exception.ToString()), attributes));
        }
    }

    private readonly string _serviceName = serviceName;
}

/// <summary>Drains the forwarding buffer onto the bus; publish failures (Redis down) drop records, never block.</summary>
public sealed class LogForwardingService(LogForwardingProvider provider, IEventBus bus, ILogger<LogForwardingService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        await foreach (var message in provider.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await bus.PublishAsync(LogTopics.Logs, message, stoppingToken);
                failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (!failing)
                {
                    logger.LogWarning(ex, "Log forwarding to the event bus failed; records are dropped until it recovers");
                    failing = true;
                }
            }
        }
    }
}
