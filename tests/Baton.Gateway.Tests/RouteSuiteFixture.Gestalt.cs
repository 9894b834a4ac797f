namespace Baton.Gateway.Tests;

// What the gestalt rows need from the system: set before it starts, seeded after, removed at the end.
public sealed partial class RouteSuiteFixture
{
    private static Task ConfigureGestaltAsync(BatonLaunchOptions options) => Task.CompletedTask;

    private static Task SeedGestaltAsync() => Task.CompletedTask;

    private static ValueTask DisposeGestaltAsync() => ValueTask.CompletedTask;
}
