using Baton.Contracts.Gateway.V1;
using Baton.Gateway.Logs;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Gateway.Status;

/// <summary><c>GET /api/status</c> and <c>GET /api/metrics/summary</c>, aggregated from every service's status RPC.</summary>
public sealed class SystemStatusApi(ServiceDirectory directory, RequestMetrics metrics, WorkdirGitInfo git, GatewayOptions options, BatonOptions baton, LogHub logs, TimeProvider time)
    : SystemStatus.SystemStatusBase
{
    public override async Task<StatusResponse> GetStatus(Empty request, ServerCallContext context)
    {
        var services = await directory.DescribeAllAsync(context.CancellationToken);
        var (branch, origin) = await git.ReadAsync(context.CancellationToken);
        var version = System.Version.TryParse(BuildInfo.Version, out var parsed) ? parsed : new System.Version(0, 0, 0);
        var response = new StatusResponse
        {
            SessionCount = Counter(services, "sessions_active"),
            ServerTime = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            SessionPersist = true,
            SessionScrollbackLines = 2000,
            WorkingDir = options.WorkDir,
            GitOrigin = origin,
            GitBranch = branch,
            Version = BuildInfo.Version,
            Major = version.Major,
            Minor = version.Minor,
            Patch = Math.Max(version.Build, 0),
            Built = BuildInfo.BuiltAt.ToString("O"),
            GitCommit = BuildInfo.Commit,
        };
        response.Services.AddRange(services);
        response.Gateway = StatusReporter.Describe(baton);
        response.Gateway.Counters["log_subscribers"] = logs.SubscriberCount;
        return response;
    }

    public override async Task<MetricsSummary> GetMetricsSummary(Empty request, ServerCallContext context)
    {
        var routes = metrics.Snapshot();
        var summary = new MetricsSummary { UpdatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()) };
        summary.TopEndpoints.AddRange(routes.OrderByDescending(r => r.Count).Take(10)
            .Select(r => new EndpointCount { Route = r.Route, Count = r.Count }));
        summary.SlowestEndpoints.AddRange(routes.OrderByDescending(r => r.P99Seconds).Take(10)
            .Select(r => new EndpointLatency { Route = r.Route, P99Seconds = r.P99Seconds, Count = r.Count }));
        summary.ErrorRates.AddRange(routes.GroupBy(r => RequestMetrics.Category(r.Route))
            .Select(g => (Category: g.Key, Total: g.Sum(r => r.Count), Errors: g.Sum(r => r.Errors)))
            .OrderByDescending(g => g.Total).Take(10)
            .Select(g => new ErrorRate
            {
                Category = g.Category,
                Total = g.Total,
                Errors = g.Errors,
                ErrorRatePct = g.Total == 0 ? 0 : Math.Round(100.0 * g.Errors / g.Total, 2),
            }));

        // Services report per-agent run counts as "agent:<name>" counters.
        var services = await directory.DescribeAllAsync(context.CancellationToken);
        summary.TopAgents.AddRange(services.Where(s => s.Healthy)
            .SelectMany(s => s.Status.Counters)
            .Where(c => c.Key.StartsWith("agent:", StringComparison.Ordinal))
            .GroupBy(c => c.Key["agent:".Length..])
            .Select(g => new AgentCount { Name = g.Key, Count = g.Sum(c => c.Value) })
            .OrderByDescending(a => a.Count).Take(10));
        return summary;
    }

    internal static long Counter(IEnumerable<ServiceHealth> services, string name) =>
        services.Where(s => s.Healthy).Sum(s => s.Status.Counters.TryGetValue(name, out var value) ? value : 0);
}
