using Baton.Testing;

namespace Baton.Integrations.Tests;

[Trait("Category", "Redis")]
public sealed class StartupTests
{
    [Fact]
    public async Task BrokenIntegrationsYaml_StopsStartup_NamingTheKeyAndLine()
    {
        var configDir = Directory.CreateTempSubdirectory("baton-broken-config-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(configDir, "integrations.yaml"), """
                integrations:
                  github:
                    plugin:
                      base_url: https://api.github.com
                      default_connection: nowhere
                      operations:
                        - {name: me, path: /user}
                """);
            var options = new BatonLaunchOptions();
            options.Environment["BATON_CONFIG_DIR"] = configDir;
            var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await (await BatonSystem.StartAsync(options)).DisposeAsync());
            Assert.Contains("integrations.yaml:5: integrations.github.plugin.default_connection: names connection \"nowhere\", which is not defined", error.Message);
        }
        finally
        {
            Directory.Delete(configDir, recursive: true);
        }
    }
}
