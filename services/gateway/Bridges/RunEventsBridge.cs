using System.Globalization;
using System.Text;
using System.Text.Json;
using Baton.Contracts.Runs.V1;
using Baton.Gateway.Errors;
using Baton.Gateway.Logs;
using Baton.Gateway.Streaming;
using Google.Protobuf;
using Grpc.Core;

namespace Baton.Gateway.Bridges;

/// <summary>
/// SSE <c>GET /api/runs/{id}/events/stream?last_event_id=</c> (or the <c>Last-Event-ID</c> header)
/// bridged onto the runs service's server-streaming <c>StreamRunEvents</c>: <c>retry:</c> first,
/// <c>id:</c> on every frame, <c>: ping</c> while idle, and a clean end after a terminal status.
/// </summary>
public static class RunEventsBridge
{
    /// <summary>Response header the runs service sends once the run exists and the stream is open.</summary>
    public const string StreamOpenHeader = "baton-stream";

    private static readonly SseRelay<RunEvent> Relay = new(
        runEvent => runEvent.CalculateSize(), runEvent => runEvent.Id.ToString(CultureInfo.InvariantCulture), Serialize);

    public static IEndpointRouteBuilder MapRunEventsBridge(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs/{id}/events/stream", StreamAsync);
        return app;
    }

    private static async Task StreamAsync(HttpContext context, string id, RunsService.RunsServiceClient runs, StreamingOptions streaming)
    {
        var afterId = ReadAfterId(context);
        if (afterId is null)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status400BadRequest, "last_event_id must be a non-negative integer");
            return;
        }
        using var call = runs.StreamRunEvents(new StreamRunEventsRequest { RunId = id, AfterId = afterId.Value }, cancellationToken: context.RequestAborted);
        try
        {
            // The runs service sends its headers once it has validated the run, so errors surface here as real HTTP statuses.
            var headers = await call.ResponseHeadersAsync;
            if (headers.GetValue(StreamOpenHeader) is null)
            {
                // A trailers-only answer: the call failed before streaming (e.g. unknown run); this throws its status.
                await call.ResponseStream.MoveNext(context.RequestAborted);
                await ErrorResponses.WriteAsync(context, StatusCodes.Status502BadGateway, "the runs service did not open the event stream");
                return;
            }
        }
        catch (RpcException ex)
        {
            await ErrorResponses.WriteAsync(context, HttpStatusFor(ex.StatusCode), ex.Status.Detail);
            return;
        }

        var sse = await SseWriter.StartAsync(context);
        await Relay.RelayAsync(context, sse, call.ResponseStream.ReadAllAsync(context.RequestAborted), call.Dispose, streaming.KeepAliveInterval,
            // The runs service went away mid-stream: tell the client, which resumes with Last-Event-ID.
            ex => ex is RpcException rpc ? (rpc.Status.Detail, HttpStatusFor(rpc.StatusCode)) : null);
    }

    private static long? ReadAfterId(HttpContext context)
    {
        var raw = context.Request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrWhiteSpace(raw))
        {
            raw = context.Request.Query["last_event_id"].ToString();
        }
        if (string.IsNullOrWhiteSpace(raw))
        {
            return 0;
        }
        return long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    /// <summary>The same row shape as <c>GET /api/runs/{id}/events</c>: numbers as numbers, payload as an object.</summary>
    private static string Serialize(RunEvent runEvent)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("id", runEvent.Id);
            json.WriteString("run_id", runEvent.RunId);
            json.WriteNumber("sequence", runEvent.Sequence);
            json.WriteString("event_type", runEvent.EventType);
            json.WritePropertyName("payload");
            json.WriteRawValue(runEvent.Payload is null ? "{}" : JsonFormatter.Default.Format(runEvent.Payload));
            json.WritePropertyName("created_at");
            json.WriteRawValue(runEvent.CreatedAt is null ? "null" : JsonFormatter.Default.Format(runEvent.CreatedAt));
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static int HttpStatusFor(StatusCode code) => code switch
    {
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status502BadGateway,
    };
}
