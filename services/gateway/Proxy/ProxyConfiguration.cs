using System.Net;
using Baton.Gateway.Auth;
using Baton.Gateway.Errors;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Security;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Baton.Gateway.Proxy;

/// <summary>The route ownership table of ARCHITECTURE.md, as YARP routes and clusters.</summary>
public static class ProxyConfiguration
{
    // Routes the gateway serves itself are endpoints of its own and win over these by route precedence.
    private static readonly (string Service, string Path)[] RestRoutes =
    [
        ("integrations", "/api/v1/{**rest}"),
        ("integrations", "/mcp/{**rest}"),
        ("chat", "/api/chats/{**rest}"),
        ("chat", "/api/profiles/{**rest}"),
        ("chat", "/api/permissions/{**rest}"),
        ("chat", "/api/config/sandbox"),
        ("git", "/api/git/log"),
        ("git", "/api/projects/{id}/repos/{**rest}"),
        ("git", "/api/projects/{id}/branches/{**rest}"),
        ("git", "/api/runs/{id}/changes"),
        ("git", "/api/runs/{id}/diff-stats"),
        ("git", "/api/runs/{id}/commit"),
        ("git", "/api/runs/{id}/push"),
        ("git", "/api/runs/{id}/pull-request"),
        ("git", "/api/runs/{id}/rename-branch"),
        ("git", "/api/runs/{id}/accept"),
        ("git", "/api/runs/{id}/revert"),
        // The OTLP/HTTP receiver (ARCHITECTURE's route table): POST /v1/logs, /v1/metrics, /v1/traces.
        ("runs", "/v1/{**rest}"),
    ];

    public static IReadOnlyList<RouteConfig> Routes()
    {
        var routes = new List<RouteConfig>();
        var index = 0;
        foreach (var (service, path) in RestRoutes)
        {
            routes.Add(new RouteConfig { RouteId = $"{service}-rest-{index++}", ClusterId = $"{service}-http", Match = new RouteMatch { Path = path } });
        }
        // Everything else under /api belongs to runs (ARCHITECTURE's last row); lowest priority.
        routes.Add(new RouteConfig { RouteId = "runs-rest-fallback", ClusterId = "runs-http", Order = 1000, Match = new RouteMatch { Path = "/api/{**rest}" } });

        foreach (var service in GatewayOptions.ServiceNames)
        {
            routes.Add(new RouteConfig
            {
                RouteId = $"{service}-grpc",
                ClusterId = $"{service}-grpc",
                Match = new RouteMatch { Path = $"/baton.{service}.v1.{{service}}/{{method}}" },
            });
        }
        return routes;
    }

    public static IReadOnlyList<ClusterConfig> Clusters(GatewayOptions options)
    {
        var clusters = new List<ClusterConfig>();
        foreach (var (service, addresses) in options.Services)
        {
            // REST goes to the same transcoded endpoints on the service's h2c port rather than its
            // HTTP/1.1 one: concurrent requests share one multiplexed connection whose frames are
            // written together, which cut the hop's CPU per request by about a third at the gateway
            // and almost half at the service (README, Performance). WebSocket upgrades still work
            // (extended CONNECT), and a second connection opens past the stream limit.
            clusters.Add(Cluster($"{service}-http", addresses.Grpc));
            clusters.Add(Cluster($"{service}-grpc", addresses.Grpc));
        }
        return clusters;
    }

    private static ClusterConfig Cluster(string id, string address) => new()
    {
        ClusterId = id,
        Destinations = new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = address } },
        HttpRequest = new ForwarderRequestConfig
        {
            Version = HttpVersion.Version20,
            // RequestVersionOrLower downgrades gRPC to HTTP/1.1 and breaks it (PLATFORM-NOTES §2).
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            // Streaming responses (SSE, NDJSON, gRPC streams) must never be cut by an idle timeout.
            ActivityTimeout = TimeSpan.FromHours(24),
        },
    };

    /// <summary>Strips caller-supplied identity headers, vouches for the request, and reshapes service errors.</summary>
    public static void AddTransforms(TransformBuilderContext context, BatonOptions batonOptions)
    {
        context.AddRequestTransform(transform =>
        {
            var headers = transform.ProxyRequest.Headers;
            // Services trust exactly these headers, so exactly these are replaced on every request.
            headers.Remove(InternalHeaders.Secret);
            headers.Remove(InternalHeaders.User);
            headers.Remove(InternalHeaders.AuthKind);
            headers.Remove(InternalHeaders.Scopes);
            var identity = transform.HttpContext.Items[AuthenticationMiddleware.IdentityItem] as CallerIdentity ?? CallerIdentity.Anonymous;
            headers.TryAddWithoutValidation(InternalHeaders.Secret, batonOptions.InternalSecret);
            headers.TryAddWithoutValidation(InternalHeaders.User, identity.User);
            headers.TryAddWithoutValidation(InternalHeaders.AuthKind, identity.Kind);
            if (identity.Scopes is { } scopes)
            {
                headers.TryAddWithoutValidation(InternalHeaders.Scopes, string.Join(' ', scopes));
            }
            return ValueTask.CompletedTask;
        });

        if (context.Cluster?.ClusterId.EndsWith("-http", StringComparison.Ordinal) == true)
        {
            var service = context.Cluster.ClusterId[..^"-http".Length];
            context.AddResponseTransform(transform => ServiceErrorTransform.ApplyAsync(transform, service));
        }
    }
}
