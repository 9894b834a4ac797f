using Microsoft.AspNetCore.Http;

namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// The request-body cap of each route family (README, "Input limits"), shared by the gateway (which
/// refuses an oversized body before proxying it) and the services (which enforce it while reading).
/// </summary>
public static class RequestBodyLimits
{
    /// <summary>Most routes take small JSON documents.</summary>
    public const long Default = 1024 * 1024;
    /// <summary>A CLI hook carries a whole tool input or response (a file read, a command's output).</summary>
    public const long Hook = 8 * 1024 * 1024;
    /// <summary>OTLP exporters send batches of logs, spans and metrics.</summary>
    public const long Telemetry = 16 * 1024 * 1024;
    /// <summary>The largest cap of any route: the gateway's own hard limit.</summary>
    public const long Max = Telemetry;

    public static long For(PathString path)
    {
        if (path.StartsWithSegments("/v1/logs") || path.StartsWithSegments("/v1/metrics") || path.StartsWithSegments("/v1/traces"))
        {
            return Telemetry;
        }
        var value = path.Value ?? "";
        if (value.StartsWith("/api/runs/", StringComparison.Ordinal) && value.EndsWith("/hook", StringComparison.Ordinal))
        {
            return Hook;
        }
        return Default;
    }
}
