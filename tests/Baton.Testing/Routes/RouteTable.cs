using System.Reflection;
using Google.Api;
using Google.Protobuf.Reflection;

namespace Baton.Testing.Routes;

/// <summary>Which API reference a route belongs to, so which error shape it answers in (ARCHITECTURE, Errors).</summary>
public enum RouteFamily
{
    /// <summary>000_*: <c>{"message","error","code"}</c>.</summary>
    Gestalt,
    /// <summary>001_*: <c>{"detail"}</c>.</summary>
    Chat,
    /// <summary>002_*: <c>{"error"}</c>.</summary>
    Integrations,
    /// <summary>003_*: <c>{"message","detail","validations"}</c>.</summary>
    Deployment,
    /// <summary>004_*: plain text.</summary>
    Runs,
    /// <summary>Probes: plain text.</summary>
    Plain,
}

public enum RouteKind
{
    Rest,
    /// <summary>Server-sent events (a gateway bridge onto a gRPC server stream).</summary>
    Sse,
    /// <summary>A WebSocket (a gateway bridge onto a gRPC stream); the method is the upgrade's GET.</summary>
    WebSocket,
    /// <summary>A transcoded server-streaming RPC: newline-delimited JSON.</summary>
    NdJson,
}

/// <summary>One route of the HTTP surface: <c>Method PathTemplate</c>, who owns it and how it answers.</summary>
/// <param name="PathTemplate">As declared: <c>/api/runs/{id}/changes</c> (parameter names as the proto or the endpoint spells them).</param>
/// <param name="Service">The owning service (ARCHITECTURE, Route ownership): gateway, runs, git, chat, integrations.</param>
/// <param name="Source">Where it is declared: the RPC's full name, or the gateway endpoint's file.</param>
public sealed record RouteInfo(string Method, string PathTemplate, string Service, RouteFamily Family, RouteKind Kind, string Source)
{
    public bool IsStream => Kind != RouteKind.Rest;

    /// <summary><c>"GET /api/runs/{id}"</c>: how the suites name a route.</summary>
    public string Key => $"{Method} {PathTemplate}";

    public override string ToString() => Key;
}

/// <summary>
/// The gateway's whole route table, enumerated from its sources of truth: the <c>google.api.http</c>
/// annotations of every RPC in <c>Baton.Contracts</c> (REST routes served by JSON transcoding, the
/// gateway's own included), plus the endpoints the gateway maps itself (probes and the SSE/WebSocket
/// bridges, <see cref="GatewayEndpoints"/>; a test checks that list against the gateway's source).
/// </summary>
public static class RouteTable
{
    /// <summary>The endpoints the gateway maps itself (not transcoded RPCs), by the owner ARCHITECTURE names for each.</summary>
    public static IReadOnlyList<RouteInfo> GatewayEndpoints { get; } =
    [
        new("GET", "/health", "gateway", RouteFamily.Plain, RouteKind.Rest, "Health/ReadinessEndpoints.cs"),
        new("GET", "/ready", "gateway", RouteFamily.Plain, RouteKind.Rest, "Health/ReadinessEndpoints.cs"),
        new("GET", "/api/health", "gateway", RouteFamily.Runs, RouteKind.Rest, "Health/ReadinessEndpoints.cs"),
        new("GET", "/api/logs/stream", "gateway", RouteFamily.Gestalt, RouteKind.Sse, "Logs/LogStreamEndpoints.cs"),
        new("GET", "/ws/logs", "gateway", RouteFamily.Gestalt, RouteKind.WebSocket, "Logs/LogStreamEndpoints.cs"),
        new("GET", "/api/runs/{id}/events/stream", "runs", RouteFamily.Runs, RouteKind.Sse, "Bridges/RunEventsBridge.cs"),
        new("GET", "/api/terminal", "runs", RouteFamily.Runs, RouteKind.WebSocket, "Bridges/TerminalBridge.cs"),
        new("GET", "/ws/events", "git", RouteFamily.Gestalt, RouteKind.WebSocket, "Bridges/FileEventsBridge.cs"),
        new("GET", "/ws/session/{id}", "runs", RouteFamily.Gestalt, RouteKind.WebSocket, "Bridges/SessionTerminalBridge.cs"),
        new("GET", "/api/events/stream", "runs", RouteFamily.Gestalt, RouteKind.Sse, "Bridges/GestaltStreamsBridge.cs"),
        new("GET", "/api/notifications/stream", "runs", RouteFamily.Gestalt, RouteKind.Sse, "Bridges/GestaltStreamsBridge.cs"),
        new("GET", "/api/agents/events", "runs", RouteFamily.Gestalt, RouteKind.WebSocket, "Bridges/GestaltStreamsBridge.cs"),
        new("GET", "/api/sessions/events", "runs", RouteFamily.Gestalt, RouteKind.WebSocket, "Bridges/GestaltStreamsBridge.cs"),
        new("GET", "/api/config/events", "runs", RouteFamily.Gestalt, RouteKind.WebSocket, "Bridges/GestaltStreamsBridge.cs"),
        new("GET", "/ws/{chat_id}", "chat", RouteFamily.Chat, RouteKind.WebSocket, "Bridges/ChatBridge.cs"),
    ];

    private static readonly Lazy<IReadOnlyList<RouteInfo>> AllRoutes = new(() => [.. FromContracts(), .. GatewayEndpoints]);

    /// <summary>Every route, REST and streaming.</summary>
    public static IReadOnlyList<RouteInfo> All => AllRoutes.Value;

    /// <summary>The REST routes declared by <c>google.api.http</c> annotations (additional bindings included).</summary>
    public static IReadOnlyList<RouteInfo> FromContracts()
    {
        var routes = new List<RouteInfo>();
        foreach (var file in ContractFiles())
        {
            var service = ServiceOf(file.Package);
            foreach (var method in file.Services.SelectMany(s => s.Methods))
            {
                if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
                {
                    continue;
                }
                foreach (var binding in new[] { rule }.Concat(rule.AdditionalBindings))
                {
                    var (verb, path) = Pattern(binding);
                    var kind = method.IsServerStreaming ? RouteKind.NdJson : RouteKind.Rest;
                    routes.Add(new RouteInfo(verb, path, service, Classify(path), kind, method.FullName));
                }
            }
        }
        return [.. routes.OrderBy(r => r.PathTemplate, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal)];
    }

    /// <summary>The route family of a concrete or template path, by the same rules as the gateway's <c>RouteFamilies.Classify</c>.</summary>
    public static RouteFamily Classify(string path)
    {
        static bool Under(string path, string prefix) =>
            path.Equals(prefix, StringComparison.OrdinalIgnoreCase) || path.StartsWith(prefix + "/", StringComparison.OrdinalIgnoreCase);
        if (Under(path, "/api/v2"))
        {
            return RouteFamily.Deployment;
        }
        if (Under(path, "/api/v1") || Under(path, "/mcp"))
        {
            return RouteFamily.Integrations;
        }
        if (new[] { "/api/chats", "/api/profiles", "/api/permissions", "/api/config/sandbox" }.Any(p => Under(path, p)))
        {
            return RouteFamily.Chat;
        }
        if (Under(path, "/ws"))
        {
            var first = path["/ws".Length..].TrimStart('/').Split('/')[0];
            return first is "logs" or "events" or "session" ? RouteFamily.Gestalt : RouteFamily.Chat;
        }
        if (new[] { "/api/projects", "/api/runs", "/api/settings", "/api/terminal", "/api/health" }.Any(p => Under(path, p)))
        {
            return RouteFamily.Runs;
        }
        if (Under(path, "/api/agents"))
        {
            return path.Equals("/api/agents/events", StringComparison.Ordinal) ? RouteFamily.Gestalt : RouteFamily.Runs;
        }
        return path.StartsWith("/api/", StringComparison.Ordinal) ? RouteFamily.Gestalt : RouteFamily.Plain;
    }

    private static IEnumerable<FileDescriptor> ContractFiles() =>
        typeof(Baton.Contracts.Runs.V1.RunsService).Assembly.GetTypes()
            .Where(t => t.Name.EndsWith("Reflection", StringComparison.Ordinal))
            .Select(t => t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null))
            .OfType<FileDescriptor>()
            .Where(f => f.Package.StartsWith("baton.", StringComparison.Ordinal))
            .OrderBy(f => f.Name, StringComparer.Ordinal);

    /// <summary><c>baton.runs.v1</c> → <c>runs</c>.</summary>
    private static string ServiceOf(string package) => package.Split('.')[1];

    private static (string Method, string Path) Pattern(HttpRule rule) => rule.PatternCase switch
    {
        HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
        HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
        HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
        HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
        HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
        HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind.ToUpperInvariant(), rule.Custom.Path),
        _ => throw new InvalidOperationException($"an http rule without a pattern: {rule}"),
    };
}
