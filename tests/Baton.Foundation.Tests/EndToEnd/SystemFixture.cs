using Baton.Testing;

namespace Baton.Foundation.Tests.EndToEnd;

/// <summary>One Baton system shared by the read-mostly system tests (each test creates its own data).</summary>
public sealed class SystemFixture : IAsyncLifetime
{
    public BatonSystem System { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new BatonLaunchOptions();
        options.Environment["BATON_KEEPALIVE_SECONDS"] = "1";
        options.Environment["BATON_EXPERIMENTS"] = "agents";
        System = await BatonSystem.StartAsync(options);
    }

    public async Task DisposeAsync() => await System.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>
{
    public const string Name = "baton system";
}

internal static class Json
{
    public static async Task<System.Text.Json.JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
    }
}
