using Microsoft.AspNetCore.Http;

namespace Baton.Gateway.Auth;

/// <summary>Which routes need no credentials and which accept a token in the query string.</summary>
public static class RoutePolicy
{
    private static readonly HashSet<string> OpenExact = new(StringComparer.Ordinal)
    {
        "/health", "/ready", "/api/health",
        "/api/v2", "/api/v2/", "/api/v2/buildinfo", "/api/v2/updatecheck",
        "/api/v1/auth/info", "/api/v1/auth/login", "/api/v1/auth/login/callback", "/api/v1/auth/logout",
        "/api/v1/auth/callback", "/api/v1/auth/pending-connection",
    };

    private static readonly string[] SseSuffixes = ["/stream"];

    public static bool IsOpen(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (OpenExact.Contains(path))
        {
            return true;
        }
        // A run's CLI hooks authenticate with that run's own secret, which the runs service checks.
        return IsRunHook(path) && HttpMethods.IsPost(context.Request.Method);
    }

    /// <summary>WebSocket upgrades and SSE routes may carry <c>?token=</c>; REST routes may not.</summary>
    public static bool IsStreaming(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            return true;
        }
        var path = context.Request.Path.Value ?? "";
        return SseSuffixes.Any(s => path.EndsWith(s, StringComparison.Ordinal));
    }

    public static bool IsProxyBinding(PathString path) => path.StartsWithSegments("/api/v1/bindings");

    /// <summary>
    /// A binding's own routes (<c>/api/v1/bindings/{name}/…</c>): webhooks authenticate by signature
    /// and proxies by the caller's token, so the gateway identifies a caller when it can and lets
    /// the integrations service, which knows each binding's type, decide.
    /// </summary>
    public static bool IsBindingRoute(PathString path) =>
        path.StartsWithSegments("/api/v1/bindings", out var rest) && (rest.Value ?? "").Trim('/').Length > 0;

    private static bool IsRunHook(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length == 4 && segments[0] == "api" && segments[1] == "runs" && segments[3] == "hook";
    }
}
