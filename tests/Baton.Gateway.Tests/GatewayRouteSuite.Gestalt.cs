namespace Baton.Gateway.Tests;

// 000_*: agent sessions, config catalog, flows, OpenTelemetry and the Gestalt streams.
public sealed partial class GatewayRouteSuite
{
    private static RouteRow[] GestaltRows() =>
    [
    ];
}
