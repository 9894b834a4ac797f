namespace Baton.Gateway.Tests;

// 001_*: chats, profiles, permissions, sandbox config and the chat WebSocket.
public sealed partial class GatewayRouteSuite
{
    private static RouteRow[] ChatRows() =>
    [
    ];
}
