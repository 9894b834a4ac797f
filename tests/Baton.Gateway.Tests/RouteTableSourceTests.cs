using System.Reflection;
using System.Text.RegularExpressions;

namespace Baton.Gateway.Tests;

/// <summary>The route table's hand-kept part (the gateway's own endpoints) against the gateway's source.</summary>
public sealed partial class RouteTableSourceTests
{
    private static readonly string GatewaySource =
        typeof(RouteTableSourceTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "GatewaySourceDirectory").Value!;

    [GeneratedRegex("""\.Map(?:Get|Post|Put|Delete|Patch)?\(\s*"(?<path>/[^"]*)"\s*,""")]
    private static partial Regex MapCall();

    [Fact]
    public void GatewayEndpoints_AreExactlyTheOnesTheGatewayMaps()
    {
        var mapped = Directory.EnumerateFiles(GatewaySource, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal))
            .SelectMany(f => MapCall().Matches(File.ReadAllText(f)).Select(m => m.Groups["path"].Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(mapped.Order(StringComparer.Ordinal), RouteTable.GatewayEndpoints.Select(r => r.PathTemplate).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RouteTable_EnumeratesTheAnnotatedRpcs_AndTheBridges()
    {
        var all = RouteTable.All;
        Assert.Contains(all, r => r.Key == "GET /api/runs/{id}" && r.Service == "runs" && r.Family == RouteFamily.Runs && r.Kind == RouteKind.Rest);
        Assert.Contains(all, r => r.Key == "POST /api/runs/{run_id}/accept" && r.Service == "git" && r.Source == "baton.git.v1.GitRestService.AcceptRun");
        Assert.Contains(all, r => r.Key == "GET /api/v2/buildinfo" && r.Service == "gateway" && r.Family == RouteFamily.Deployment);
        Assert.Contains(all, r => r.Key == "GET /api/git/log" && r.Family == RouteFamily.Gestalt);
        Assert.Contains(all, r => r.Key == "GET /ws/events" && r.IsStream && r.Kind == RouteKind.WebSocket);
        Assert.Equal(all.Count, all.Select(r => r.Key).Distinct().Count());
    }

    [Fact]
    public void RouteTable_EveryRouteHasARow_AndEveryRowARoute()
    {
        var routes = RouteTable.All.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var rows = GatewayRouteSuite.RowKeys.ToList();
        Assert.Equal(rows.Count, rows.Distinct(StringComparer.Ordinal).Count());
        var missing = routes.Except(rows).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0,
            "routes without a gateway test (add a row to GatewayRouteSuite.Rows for each):\n" + string.Join('\n', missing.Select(k => $"    Row(\"{k}\", c => …success…, c => …documented error…),")));
        var stale = rows.Except(routes).ToList();
        Assert.True(stale.Count == 0, "rows for routes the route table no longer has: " + string.Join(", ", stale));
    }
}
