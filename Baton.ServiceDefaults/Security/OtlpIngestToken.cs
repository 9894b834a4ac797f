using System.Security.Cryptography;
using System.Text;

namespace Baton.ServiceDefaults.Security;

/// <summary>
/// The credential agent CLIs send with their OpenTelemetry exports (<c>OTEL_EXPORTER_OTLP_HEADERS</c>).
/// Derived from the launcher's internal secret, so the runs service (which hands it out) and every
/// gateway replica (which checks it) agree without storing it; the gateway accepts it on the OTLP
/// receiver routes only, so a leaked agent environment cannot read or change anything.
/// </summary>
public static class OtlpIngestToken
{
    public const string Prefix = "baton_otlp_";

    public static string Derive(string internalSecret) =>
        Prefix + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(internalSecret), "baton otlp ingest v1"u8)).ToLowerInvariant();

    /// <summary>The receiver's routes: <c>POST /v1/logs</c>, <c>/v1/metrics</c>, <c>/v1/traces</c>.</summary>
    public static bool IsIngestRoute(string method, string path) =>
        string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase) && path is "/v1/logs" or "/v1/metrics" or "/v1/traces";
}
