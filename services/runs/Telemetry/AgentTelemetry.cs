using System.Globalization;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Security;
using Baton.Runs.Sessions;

namespace Baton.Runs.Telemetry;

/// <summary>
/// The environment that points an agent CLI's own OpenTelemetry at Baton's OTLP receiver (the
/// gateway's <c>/v1/*</c>), tagged with the run or session it belongs to, so its token, cost and
/// tool metrics show up in <c>/api/otel/*</c>. The credential is the ingest-only token: the
/// gateway accepts it on the receiver's routes and nowhere else.
/// </summary>
public sealed class AgentTelemetry(RunsConfiguration configuration, BatonOptions options, TelemetryOptions telemetry) : IAgentEnvironmentContributor
{
    private readonly string _ingestToken = OtlpIngestToken.Derive(options.InternalSecret);

    public IReadOnlyDictionary<string, string> ForRun(string runId) => Build(OtlpRecords.RunIdAttribute, runId);

    public IReadOnlyDictionary<string, string> ForSession(string sessionId) => Build(OtlpRecords.SessionIdAttribute, sessionId);

    /// <summary>Agent sessions' CLIs report to the receiver tagged with their session id, like runs.</summary>
    public void Contribute(AgentProcessContext context, IDictionary<string, string> environment)
    {
        var ours = context.Kind == "run" ? ForRun(context.Id) : ForSession(context.Id);
        foreach (var (key, value) in Merge(ours, new Dictionary<string, string>(environment, StringComparer.Ordinal)))
        {
            environment[key] = value;
        }
    }

    /// <summary>
    /// Adds the telemetry variables under <paramref name="environment"/>'s own values: an agent's
    /// <c>provider_config.env</c> may point its telemetry elsewhere, while Baton's tag is kept in
    /// <c>OTEL_RESOURCE_ATTRIBUTES</c> either way.
    /// </summary>
    public static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> telemetry, IReadOnlyDictionary<string, string> environment)
    {
        var merged = new Dictionary<string, string>(telemetry, StringComparer.Ordinal);
        foreach (var (key, value) in environment)
        {
            merged[key] = key == "OTEL_RESOURCE_ATTRIBUTES" && telemetry.TryGetValue(key, out var ours) && value.Length > 0 ? value + "," + ours : value;
        }
        return merged;
    }

    private Dictionary<string, string> Build(string attribute, string id)
    {
        if (!telemetry.AgentTelemetry)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }
        var interval = telemetry.AgentExportIntervalMs.ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CLAUDE_CODE_ENABLE_TELEMETRY"] = "1",
            ["OTEL_METRICS_EXPORTER"] = "otlp",
            ["OTEL_LOGS_EXPORTER"] = "otlp",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = configuration.PublicUrl,
            // A literal space: Claude Code's exporter (OpenTelemetry JS) sends header values as written, not percent-decoded.
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=Bearer " + _ingestToken,
            // W3C baggage-style list: the value is percent-encoded so ids with spaces (sessions: "Coder 1") survive.
            ["OTEL_RESOURCE_ATTRIBUTES"] = attribute + "=" + Uri.EscapeDataString(id),
            // Baton's own OTEL_SERVICE_NAME (the launcher's "runs") must not rename the agent; empty means unset.
            ["OTEL_SERVICE_NAME"] = "",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = interval,
            ["OTEL_LOGS_EXPORT_INTERVAL"] = interval,
        };
    }
}
