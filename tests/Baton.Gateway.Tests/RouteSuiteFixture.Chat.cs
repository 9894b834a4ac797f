namespace Baton.Gateway.Tests;

// What the chat rows need from the system: set before it starts, seeded after, removed at the end.
public sealed partial class RouteSuiteFixture
{
    private static Task ConfigureChatAsync(BatonLaunchOptions options) => Task.CompletedTask;

    private static Task SeedChatAsync() => Task.CompletedTask;

    private static ValueTask DisposeChatAsync() => ValueTask.CompletedTask;
}
