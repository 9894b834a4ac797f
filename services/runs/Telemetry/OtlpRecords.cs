using System.Text.Json.Nodes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Metrics.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Baton.Runs.Telemetry;

/// <summary>
/// Splits an export into one stored record per span, metric or log record; each record is itself a
/// valid OTLP-JSON export request holding that one item with its resource and scope.
/// </summary>
public static class OtlpRecords
{
    public const string RunIdAttribute = "baton.run.id";
    public const string SessionIdAttribute = "baton.session.id";

    public static List<TelemetryRecord> FromTraces(ExportTraceServiceRequest request)
    {
        var records = new List<TelemetryRecord>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                foreach (var span in scopeSpans.Spans)
                {
                    var one = new ExportTraceServiceRequest
                    {
                        ResourceSpans =
                        {
                            new ResourceSpans
                            {
                                Resource = resourceSpans.Resource,
                                SchemaUrl = resourceSpans.SchemaUrl,
                                ScopeSpans = { new ScopeSpans { Scope = scopeSpans.Scope, SchemaUrl = scopeSpans.SchemaUrl, Spans = { span } } },
                            },
                        },
                    };
                    records.Add(Record(TelemetryKind.Trace, (long)span.StartTimeUnixNano, Hex(span.TraceId), span.Name, resourceSpans.Resource, one));
                }
            }
        }
        return records;
    }

    public static List<TelemetryRecord> FromMetrics(ExportMetricsServiceRequest request)
    {
        var records = new List<TelemetryRecord>();
        foreach (var resourceMetrics in request.ResourceMetrics)
        {
            foreach (var scopeMetrics in resourceMetrics.ScopeMetrics)
            {
                foreach (var metric in scopeMetrics.Metrics)
                {
                    var one = new ExportMetricsServiceRequest
                    {
                        ResourceMetrics =
                        {
                            new ResourceMetrics
                            {
                                Resource = resourceMetrics.Resource,
                                SchemaUrl = resourceMetrics.SchemaUrl,
                                ScopeMetrics = { new ScopeMetrics { Scope = scopeMetrics.Scope, SchemaUrl = scopeMetrics.SchemaUrl, Metrics = { metric } } },
                            },
                        },
                    };
                    records.Add(Record(TelemetryKind.Metric, (long)LatestTime(metric), "", metric.Name, resourceMetrics.Resource, one));
                }
            }
        }
        return records;
    }

    public static List<TelemetryRecord> FromLogs(ExportLogsServiceRequest request)
    {
        var records = new List<TelemetryRecord>();
        foreach (var resourceLogs in request.ResourceLogs)
        {
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                foreach (var log in scopeLogs.LogRecords)
                {
                    var one = new ExportLogsServiceRequest
                    {
                        ResourceLogs =
                        {
                            new ResourceLogs
                            {
                                Resource = resourceLogs.Resource,
                                SchemaUrl = resourceLogs.SchemaUrl,
                                ScopeLogs = { new ScopeLogs { Scope = scopeLogs.Scope, SchemaUrl = scopeLogs.SchemaUrl, LogRecords = { log } } },
                            },
                        },
                    };
                    var time = log.TimeUnixNano != 0 ? log.TimeUnixNano : log.ObservedTimeUnixNano;
                    records.Add(Record(TelemetryKind.Log, (long)time, Hex(log.TraceId), log.EventName.Length > 0 ? log.EventName : scopeLogs.Scope?.Name ?? "", resourceLogs.Resource, one));
                }
            }
        }
        return records;
    }

    public static string? Attribute(IEnumerable<KeyValue>? attributes, string key) =>
        attributes?.FirstOrDefault(a => a.Key == key)?.Value is { } value ? Text(value) : null;

    /// <summary>An AnyValue as text: strings as they are, everything else as its OTLP-JSON.</summary>
    public static string Text(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.None => "",
        _ => OtlpCodec.ToOtlpJson(value).ToJsonString(),
    };

    private static TelemetryRecord Record(TelemetryKind kind, long time, string traceId, string name, Resource? resource, IMessage one)
    {
        var subject = Attribute(resource?.Attributes, RunIdAttribute) ?? Attribute(resource?.Attributes, SessionIdAttribute) ?? "";
        var service = Attribute(resource?.Attributes, "service.name") ?? "";
        return new TelemetryRecord(kind, time, traceId, name, service, subject, (JsonObject)OtlpCodec.ToOtlpJson(one));
    }

    private static ulong LatestTime(Metric metric)
    {
        IEnumerable<ulong> times = metric.DataCase switch
        {
            Metric.DataOneofCase.Gauge => metric.Gauge.DataPoints.Select(p => p.TimeUnixNano),
            Metric.DataOneofCase.Sum => metric.Sum.DataPoints.Select(p => p.TimeUnixNano),
            Metric.DataOneofCase.Histogram => metric.Histogram.DataPoints.Select(p => p.TimeUnixNano),
            Metric.DataOneofCase.ExponentialHistogram => metric.ExponentialHistogram.DataPoints.Select(p => p.TimeUnixNano),
            Metric.DataOneofCase.Summary => metric.Summary.DataPoints.Select(p => p.TimeUnixNano),
            _ => [],
        };
        return times.DefaultIfEmpty(0UL).Max();
    }

    private static string Hex(ByteString id) => id.IsEmpty ? "" : Convert.ToHexString(id.Span).ToLowerInvariant();
}
