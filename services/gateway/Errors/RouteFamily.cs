using Microsoft.AspNetCore.Http;

namespace Baton.Gateway.Errors;

/// <summary>Which API reference a route belongs to; each answers errors in its own shape (ARCHITECTURE, Errors).</summary>
public enum RouteFamily
{
    /// <summary>000_* (Gestalt): <c>{"message","error","code"}</c>.</summary>
    Gestalt,
    /// <summary>001_* (chat): <c>{"detail"}</c>.</summary>
    Chat,
    /// <summary>002_* (integrations): <c>{"error"}</c>.</summary>
    Integrations,
    /// <summary>003_* (deployment, /api/v2): <c>{"message","detail","validations"}</c>.</summary>
    Deployment,
    /// <summary>004_* (projects, agents, runs): plain text.</summary>
    Runs,
    /// <summary>Probes and unknown paths: plain text.</summary>
    Plain,
}

public static class RouteFamilies
{
    private static readonly string[] ChatPrefixes = ["/api/chats", "/api/profiles", "/api/permissions", "/api/config/sandbox"];
    private static readonly string[] RunsPrefixes = ["/api/projects", "/api/runs", "/api/settings", "/api/terminal", "/api/health"];
    private static readonly string[] GestaltWebSockets = ["logs", "events", "session"];

    public static RouteFamily Classify(PathString path)
    {
        var value = path.Value ?? "/";
        if (path.StartsWithSegments("/api/v2"))
        {
            return RouteFamily.Deployment;
        }
        if (path.StartsWithSegments("/api/v1") || path.StartsWithSegments("/mcp"))
        {
            return RouteFamily.Integrations;
        }
        if (ChatPrefixes.Any(p => path.StartsWithSegments(p)))
        {
            return RouteFamily.Chat;
        }
        if (path.StartsWithSegments("/ws", out var rest))
        {
            var first = (rest.Value ?? "").TrimStart('/').Split('/')[0];
            return GestaltWebSockets.Contains(first) ? RouteFamily.Gestalt : RouteFamily.Chat;
        }
        if (RunsPrefixes.Any(p => path.StartsWithSegments(p)))
        {
            return RouteFamily.Runs;
        }
        // /api/agents is shared: the 004_* resource, except the 000_* event WebSocket.
        if (path.StartsWithSegments("/api/agents"))
        {
            return value.Equals("/api/agents/events", StringComparison.Ordinal) ? RouteFamily.Gestalt : RouteFamily.Runs;
        }
        return value.StartsWith("/api/", StringComparison.Ordinal) ? RouteFamily.Gestalt : RouteFamily.Plain;
    }
}
