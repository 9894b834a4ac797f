using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace Baton.Gateway.Status;

/// <summary>
/// Per-route request counts, latency and error rates seen at the gateway, for /api/metrics/summary.
/// Routes are normalised (ids become <c>{id}</c>) so the table stays small.
/// </summary>
public sealed partial class RequestMetrics
{
    private const int Reservoir = 512;
    private const int MaxCachedPaths = 10_000;
    private readonly ConcurrentDictionary<string, RouteStats> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _normalised = new(StringComparer.Ordinal);

    public void Record(string path, int statusCode, TimeSpan elapsed)
    {
        if (!_normalised.TryGetValue(path, out var route))
        {
            route = Normalise(path);
            if (_normalised.Count < MaxCachedPaths)
            {
                _normalised.TryAdd(path, route);
            }
        }
        var stats = _routes.GetOrAdd(route, _ => new RouteStats());
        stats.Add(elapsed.TotalSeconds, statusCode >= 500 || statusCode is 408 or 429);
    }

    public IReadOnlyList<(string Route, long Count, double P99Seconds, long Errors)> Snapshot() =>
        _routes.Select(kv => (kv.Key, kv.Value.Count, kv.Value.P99(), kv.Value.Errors)).ToList();

    public static string Normalise(string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < segments.Length; i++)
        {
            if (IdLike().IsMatch(segments[i]))
            {
                segments[i] = "{id}";
            }
        }
        return "/" + string.Join('/', segments);
    }

    /// <summary>Category for error rates: the first segment after /api (sessions, runs, v2 …).</summary>
    public static string Category(string route)
    {
        var segments = route.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length >= 2 && segments[0] == "api" ? segments[1] : segments.FirstOrDefault() ?? "/";
    }

    [GeneratedRegex(@"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]+|[0-9a-fA-F]{16,})$")]
    private static partial Regex IdLike();

    private sealed class RouteStats
    {
        private readonly double[] _samples = new double[Reservoir];
        private long _count;
        private long _errors;

        public long Count => Interlocked.Read(ref _count);
        public long Errors => Interlocked.Read(ref _errors);

        public void Add(double seconds, bool error)
        {
            var n = Interlocked.Increment(ref _count);
            if (error)
            {
                Interlocked.Increment(ref _errors);
            }
            // Keeps the latest samples; p99 over a recent window is what an operator wants.
            _samples[(n - 1) % Reservoir] = seconds;
        }

        public double P99()
        {
            var n = (int)Math.Min(Count, Reservoir);
            if (n == 0)
            {
                return 0;
            }
            var copy = _samples.AsSpan(0, n).ToArray();
            Array.Sort(copy);
            return copy[Math.Min(n - 1, (int)Math.Ceiling(n * 0.99) - 1)];
        }
    }
}
