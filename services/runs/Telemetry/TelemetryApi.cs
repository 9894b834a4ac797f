using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Logging;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;

namespace Baton.Runs.Telemetry;

/// <summary><c>/api/otel/*</c> and the OTLP/HTTP receiver <c>POST /v1/{logs,metrics,traces}</c>.</summary>
public sealed class TelemetryApi(TelemetryStore store, IEventBus bus, TimeProvider time, ILogger<TelemetryApi> logger) : TelemetryService.TelemetryServiceBase
{
    private const int MaxLogBody = 256 * 1024;

    public override async Task<Empty> IngestOtelLog(HttpBody request, ServerCallContext context)
    {
        if (request.Data.Length > MaxLogBody)
        {
            throw Fail(context, 413, $"the log record is larger than {MaxLogBody / 1024} KiB");
        }
        JsonObject body;
        try
        {
            body = JsonNode.Parse(request.Data.Span, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 32 }) as JsonObject
                ?? throw Fail(context, 400, "the log record must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw Fail(context, 400, $"invalid JSON: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw Fail(context, 400, $"invalid JSON: {ex.Message}");
        }
        var record = UiLogRecord.Parse(body, message => Fail(context, 400, message));
        var now = time.GetUtcNow();
        await PublishLogAsync(now, record.Service, record.Level, "otel.ui", record.Message, record.Attributes, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    public override async Task<HttpBody> ListOtelTraces(ListOtelTracesRequest request, ServerCallContext context) =>
        await QueryAsync(context, new TelemetryQuery(TelemetryKind.Trace, Limit(context, request.Limit), Hex(context, request.TraceId), Optional(request.SpanName),
            Time(context, request.Since, "since"), Time(context, request.Until, "until"), Optional(request.Query)));

    public override async Task<HttpBody> ListOtelMetrics(ListOtelMetricsRequest request, ServerCallContext context) =>
        await QueryAsync(context, new TelemetryQuery(TelemetryKind.Metric, Limit(context, request.Limit), null, Optional(request.Name),
            Time(context, request.Since, "since"), Time(context, request.Until, "until"), Optional(request.Query)));

    public override Task<HttpBody> ExportOtlpTraces(HttpBody request, ServerCallContext context) =>
        ReceiveAsync(request, context, ExportTraceServiceRequest.Parser, OtlpRecords.FromTraces, new ExportTraceServiceResponse());

    public override Task<HttpBody> ExportOtlpMetrics(HttpBody request, ServerCallContext context) =>
        ReceiveAsync(request, context, ExportMetricsServiceRequest.Parser, OtlpRecords.FromMetrics, new ExportMetricsServiceResponse());

    public override async Task<HttpBody> ExportOtlpLogs(HttpBody request, ServerCallContext context)
    {
        var answer = await ReceiveAsync(request, context, ExportLogsServiceRequest.Parser, OtlpRecords.FromLogs, new ExportLogsServiceResponse());
        return answer;
    }

    private async Task<HttpBody> ReceiveAsync<T>(HttpBody request, ServerCallContext context, MessageParser<T> parser,
        Func<T, List<TelemetryRecord>> split, IMessage response) where T : IMessage<T>, new()
    {
        T export;
        OtlpEncoding encoding;
        try
        {
            if (request.Data.Length > OtlpCodec.MaxBody)
            {
                throw new OtlpInputException(413, $"the body is larger than {OtlpCodec.MaxBody / (1024 * 1024)} MiB");
            }
            encoding = OtlpCodec.EncodingOf(request.ContentType);
            var contentEncoding = context.GetHttpContext().Request.Headers.ContentEncoding.ToString();
            export = OtlpCodec.Decode(request.Data.Span, request.ContentType, contentEncoding, parser);
        }
        catch (OtlpInputException ex)
        {
            throw Fail(context, ex.Status, ex.Message);
        }
        var records = split(export);
        var nowNano = time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
        records = [.. records.Select(r => r.TimeUnixNano > 0 ? r : r with { TimeUnixNano = nowNano })];
        await store.AddAsync(records, context.CancellationToken);
        if (export is ExportLogsServiceRequest logs)
        {
            await ForwardLogsAsync(logs, context.CancellationToken);
        }
        return new HttpBody
        {
            ContentType = encoding == OtlpEncoding.Protobuf ? "application/x-protobuf" : "application/json",
            Data = ByteString.CopyFrom(OtlpCodec.Encode(response, encoding)),
        };
    }

    /// <summary>OTLP log records also join <c>/api/logs/stream</c>, tagged with the run or session they came from.</summary>
    private async Task ForwardLogsAsync(ExportLogsServiceRequest logs, CancellationToken cancellationToken)
    {
        foreach (var resourceLogs in logs.ResourceLogs)
        {
            var service = OtlpRecords.Attribute(resourceLogs.Resource?.Attributes, "service.name") ?? "otel";
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                foreach (var log in scopeLogs.LogRecords.Take(1000))
                {
                    var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var attribute in (resourceLogs.Resource?.Attributes ?? []).Where(a => a.Key.StartsWith("baton.", StringComparison.Ordinal)).Concat(log.Attributes).Take(64))
                    {
                        attributes[attribute.Key] = Cut(OtlpRecords.Text(attribute.Value), 2048);
                    }
                    var when = log.TimeUnixNano != 0 ? log.TimeUnixNano : log.ObservedTimeUnixNano;
                    var timestamp = when == 0 ? time.GetUtcNow() : DateTimeOffset.FromUnixTimeMilliseconds((long)(when / 1_000_000));
                    var message = log.Body is null ? log.EventName : OtlpRecords.Text(log.Body);
                    await PublishLogAsync(timestamp, service, UiLogRecord.LevelOf(log.SeverityText, (int)log.SeverityNumber),
                        scopeLogs.Scope?.Name is { Length: > 0 } scope ? scope : "otel", Cut(message, 16 * 1024), attributes, cancellationToken);
                }
            }
        }
    }

    private async Task PublishLogAsync(DateTimeOffset timestamp, string service, string level, string category, string message,
        Dictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        try
        {
            await bus.PublishAsync(LogTopics.Logs, new LogMessage(timestamp, service, level, category, message, null, attributes), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Forwarding an OpenTelemetry log record to the log stream failed");
            throw new RpcException(new Status(StatusCode.Unavailable, "the event bus is unavailable; the log record was not accepted"));
        }
    }

    private async Task<HttpBody> QueryAsync(ServerCallContext context, TelemetryQuery query)
    {
        var rows = await store.QueryAsync(query, context.CancellationToken);
        var json = "[" + string.Join(",", rows) + "]";
        return new HttpBody { ContentType = "application/json; charset=utf-8", Data = ByteString.CopyFromUtf8(json) };
    }

    private static int Limit(ServerCallContext context, int limit) => limit switch
    {
        0 => 200,
        < 0 or > 1000 => throw Fail(context, 400, "limit must be between 1 and 1000"),
        _ => limit,
    };

    private static string? Optional(string value) => string.IsNullOrEmpty(value) ? null : value.Length > 256 ? value[..256] : value;

    private static string? Hex(ServerCallContext context, string value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        return value.Length <= 64 && value.All(Uri.IsHexDigit) ? value.ToLowerInvariant() : throw Fail(context, 400, "trace_id must be hex");
    }

    private static long? Time(ServerCallContext context, string value, string name)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            // Unix nanoseconds end in 2262: later bounds clamp instead of wrapping around.
            var milliseconds = parsed.ToUnixTimeMilliseconds();
            return milliseconds > long.MaxValue / 1_000_000 ? long.MaxValue : milliseconds < long.MinValue / 1_000_000 ? long.MinValue : milliseconds * 1_000_000;
        }
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var nanos))
        {
            return nanos;
        }
        throw Fail(context, 400, $"{name} must be an RFC 3339 time or Unix nanoseconds");
    }

    private static RpcException Fail(ServerCallContext context, int status, string message)
    {
        context.SetHttpStatus(status);
        return new RpcException(new Status(status == 413 ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument, message));
    }

    private static string Cut(string value, int max) => value.Length > max ? value[..max] + "…" : value;
}

/// <summary>The NOTES body of <c>POST /api/otel/logs</c>: <c>{"severity_text","severity_number","body","attributes"}</c>.</summary>
public sealed record UiLogRecord(string Service, string Level, string Message, Dictionary<string, string> Attributes)
{
    public static UiLogRecord Parse(JsonObject body, Func<string, Exception> fail)
    {
        foreach (var (key, _) in body)
        {
            if (key is not ("severity_text" or "severity_number" or "body" or "attributes" or "timestamp" or "time_unix_nano"))
            {
                throw fail($"unknown field '{(key.Length > 40 ? key[..40] : key)}'");
            }
        }
        var severityText = body["severity_text"] switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw fail("severity_text must be a string"),
        };
        var severityNumber = body["severity_number"] switch
        {
            null => 0,
            JsonValue v when v.TryGetValue<int>(out var n) && n is >= 0 and <= 24 => n,
            _ => throw fail("severity_number must be an integer from 0 to 24"),
        };
        if (!body.ContainsKey("body"))
        {
            throw fail("body is required");
        }
        var message = body["body"] switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonObject any => AnyValueText(any, fail),
            var other => other.ToJsonString(),
        };
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (body["attributes"])
        {
            case null:
                break;
            case JsonObject map:
                foreach (var (key, value) in map.Take(64))
                {
                    attributes[key] = value is JsonValue s && s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>() : value?.ToJsonString() ?? "";
                }
                break;
            case JsonArray list:
                foreach (var item in list.Take(64))
                {
                    if (item is not JsonObject pair || pair["key"] is not JsonValue key || key.GetValueKind() != JsonValueKind.String)
                    {
                        throw fail("attributes as a list must hold {\"key\",\"value\"} objects");
                    }
                    attributes[key.GetValue<string>()] = pair["value"] switch
                    {
                        JsonObject any => AnyValueText(any, fail),
                        JsonValue s when s.GetValueKind() == JsonValueKind.String => s.GetValue<string>(),
                        var other => other?.ToJsonString() ?? "",
                    };
                }
                break;
            default:
                throw fail("attributes must be an object or a list of {\"key\",\"value\"}");
        }
        var service = attributes.GetValueOrDefault("service.name") is { Length: > 0 } s2 ? s2 : "ui";
        return new UiLogRecord(service, LevelOf(severityText, severityNumber), message, attributes);
    }

    /// <summary>OTLP severity (text or number) as a .NET log level name, as the log stream carries it.</summary>
    public static string LevelOf(string severityText, int severityNumber)
    {
        var fromText = severityText.Trim().ToUpperInvariant() switch
        {
            "TRACE" => "Trace",
            "DEBUG" => "Debug",
            "INFO" or "INFORMATION" => "Information",
            "WARN" or "WARNING" => "Warning",
            "ERROR" => "Error",
            "FATAL" or "CRITICAL" => "Critical",
            _ => null,
        };
        return fromText ?? severityNumber switch
        {
            >= 1 and <= 4 => "Trace",
            >= 5 and <= 8 => "Debug",
            >= 13 and <= 16 => "Warning",
            >= 17 and <= 20 => "Error",
            >= 21 => "Critical",
            _ => "Information",
        };
    }

    private static string AnyValueText(JsonObject any, Func<string, Exception> fail)
    {
        try
        {
            return OtlpRecords.Text(JsonParser.Default.Parse<AnyValue>(any.ToJsonString()));
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            throw fail($"body is not an OTLP AnyValue: {ex.Message}");
        }
    }
}
