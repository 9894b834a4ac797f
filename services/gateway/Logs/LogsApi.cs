using Baton.Contracts.Common.V1;
using Baton.Contracts.Gateway.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Gateway.Logs;

/// <summary>The gRPC form of the live log stream (the SSE and WebSocket routes carry the same records).</summary>
public sealed class LogsApi(LogHub hub, TimeProvider time) : Contracts.Gateway.V1.Logs.LogsBase
{
    public override async Task StreamLogs(StreamLogsRequest request, IServerStreamWriter<LogRecord> responseStream, ServerCallContext context)
    {
        var since = request.IncludeTail ? time.GetUtcNow() - TimeSpan.FromHours(1) : DateTimeOffset.MaxValue;
        var (replay, live) = hub.Subscribe(request.AfterId > 0 ? request.AfterId : null, since);
        using (live)
        {
            foreach (var entry in replay)
            {
                await responseStream.WriteAsync(ToRecord(entry, true), context.CancellationToken);
            }
            try
            {
                await foreach (var entry in live.Reader.ReadAllAsync(context.CancellationToken))
                {
                    await responseStream.WriteAsync(ToRecord(entry, false), context.CancellationToken);
                }
            }
            catch (SlowConsumerException ex)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, ex.Message));
            }
        }
    }

    private static LogRecord ToRecord(LogEntry entry, bool replay)
    {
        var record = new LogRecord
        {
            Id = entry.Id,
            Timestamp = Timestamp.FromDateTimeOffset(entry.Message.Timestamp),
            Service = entry.Message.Service,
            Level = entry.Message.Level,
            Category = entry.Message.Category,
            Message = entry.Message.Message,
            Exception = entry.Message.Exception ?? "",
            Replay = replay,
        };
        record.Attributes.Add(entry.Message.Attributes);
        return record;
    }
}
