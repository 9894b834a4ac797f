namespace Baton.Gateway.Tests;

// 002_*: integrations, platform login, API tokens and operations.
public sealed partial class GatewayRouteSuite
{
    private static RouteRow[] IntegrationsRows() =>
    [
    ];
}
