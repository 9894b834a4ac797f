using Baton.Contracts.Runs.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Runs.Streams;

/// <summary>The gRPC boundary of the 000_* streams; the gateway bridges it to SSE and WebSockets.</summary>
public sealed class GestaltStreamsApi(GestaltEventLog events) : GestaltStreams.GestaltStreamsBase
{
    /// <summary>Response header sent once the request is valid, so the gateway can answer errors with real HTTP statuses.</summary>
    public const string StreamOpenHeader = "baton-stream";

    public override async Task StreamGestaltEvents(StreamGestaltEventsRequest request, IServerStreamWriter<GestaltEvent> responseStream, ServerCallContext context)
    {
        var streams = new HashSet<GestaltStream>();
        foreach (var name in request.Streams)
        {
            if (!GestaltEventLog.TryParseStream(name, out var stream))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"unknown stream {Quote(name)}: watcher, config, agent, terminal or notification"));
            }
            streams.Add(stream);
        }
        if (streams.Count == 0)
        {
            streams.UnionWith(System.Enum.GetValues<GestaltStream>());
        }
        var types = request.Types_.Select(t => t.Trim()).Where(t => t.Length > 0).ToHashSet(StringComparer.Ordinal);
        if (request.HasAfterId && request.AfterId < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "after_id must be a non-negative integer"));
        }

        // Fixed before the headers go out: once the caller knows the stream is open, nothing newer is missed.
        var afterId = request.HasAfterId ? request.AfterId : await events.LastIdAsync(context.CancellationToken);
        await context.WriteResponseHeadersAsync(new Metadata { { StreamOpenHeader, "1" } });
        try
        {
            await foreach (var record in events.StreamAsync(streams, types, afterId, context.CancellationToken))
            {
                await responseStream.WriteAsync(new GestaltEvent
                {
                    Id = record.Id,
                    Stream = GestaltEventLog.StreamName(record.Stream),
                    Type = record.Type,
                    PayloadJson = record.PayloadJson,
                    CreatedAt = Timestamp.FromDateTimeOffset(record.CreatedAt),
                }, context.CancellationToken);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
    }

    private static string Quote(string value) => "'" + (value.Length > 40 ? value[..40] + "…" : value) + "'";
}
