namespace Baton.Gateway.Tests;

// What the integrations rows need from the system: set before it starts, seeded after, removed at the end.
public sealed partial class RouteSuiteFixture
{
    private static Task ConfigureIntegrationsAsync(BatonLaunchOptions options) => Task.CompletedTask;

    private static Task SeedIntegrationsAsync() => Task.CompletedTask;

    private static ValueTask DisposeIntegrationsAsync() => ValueTask.CompletedTask;
}
