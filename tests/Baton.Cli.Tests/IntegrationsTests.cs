using System.Net;
using System.Text.Json.Nodes;
using System.Web;
using Baton.Cli.Tests.Infrastructure;
using Baton.Integrations.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Cli.Tests;

/// <summary>
/// <c>baton login</c> through the browser, <c>baton tokens</c> and <c>baton integrations</c>, against the system of the
/// integrations tests: a real OpenIddict server for OIDC and OAuth, a local upstream API, their integrations.yaml.
/// The "browser" is <c>$BROWSER</c>, a script that records the URL; the test then follows it as a browser would.
/// </summary>
[Trait("Category", "Redis")]
public sealed class IntegrationsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task BrowserLogin_SavesAnApiToken_TokensAndIntegrationsWork_LogoutRevokes()
    {
        var fixture = new IntegrationsFixture();
        await fixture.InitializeAsync();
        var scratch = TestEnvironment.NewDirectory("baton-cli-browser");
        using var cli = new BatonCli();
        try
        {
            var urls = Path.Combine(scratch, "urls");
            var browser = Path.Combine(scratch, "browser.sh");
            File.WriteAllText(browser, $"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{urls}'\n");
            File.SetUnixFileMode(browser, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            cli.Environment["BROWSER"] = browser;
            cli.Environment["DISPLAY"] = null;
            var url = fixture.System.GatewayUrl.ToString();
            var grpc = fixture.System.GrpcUrl.ToString();

            // Login: the browser opens Baton's login URL at the provider, the provider redirects to the gateway's
            // callback, which redirects to the CLI's loopback port with the session; the CLI saves an API token.
            var email = IntegrationsFixture.NewEmail("cli");
            await using (var login = cli.Start("login", "--url", url, "--grpc-url", grpc))
            {
                var loginUrl = await NextUrlAsync(urls, 1, login);
                fixture.Auth.SignInAs(HttpUtility.ParseQueryString(new Uri(loginUrl).Query)["state"]!, email);
                var page = await FollowAsBrowserAsync(loginUrl, until: u => u.AbsolutePath == "/" && u.Query.Contains("token=gst_session_", StringComparison.Ordinal));
                Assert.Equal(HttpStatusCode.OK, page.Status);
                Assert.Contains("You can close this tab", page.Body, StringComparison.Ordinal);
                var result = await login.WaitAsync(Wait);
                Assert.True(result.ExitCode == 0, result.ToString());
            }
            var file = Path.Combine(cli.ConfigHome, "baton", "credentials.json");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var saved = JsonNode.Parse(File.ReadAllText(file))!;
            var cliToken = (string)saved["token"]!;
            Assert.StartsWith("gst_api_", cliToken, StringComparison.Ordinal);
            var tokens = JsonNode.Parse((await cli.RunOkAsync("tokens", "ls", "-o", "json")).Stdout)!.AsArray();
            Assert.Equal((string?)saved["token_id"], (string?)Assert.Single(tokens)!["id"]);

            // Integrations as that user: a manual credential, then OAuth in the browser, then invoke.
            var list = JsonNode.Parse((await cli.RunOkAsync("integrations", "ls", "-o", "json")).Stdout)!.AsArray();
            Assert.Contains(list, i => (string?)i!["name"] == "github" && !(bool)i["connected"]!);
            Assert.Contains("get_user", (await cli.RunOkAsync("integrations", "ops", "github")).Stdout, StringComparison.Ordinal);
            Assert.Equal(3, (await cli.RunAsync("integrations", "ops", "nope")).ExitCode);
            await cli.RunOkAsync("integrations", "connect", "apikeys", "--credential", "key-0123456789");
            Assert.Contains("\"key_length\":14", (await cli.RunOkAsync("integrations", "invoke", "apikeys", "whoami")).Stdout, StringComparison.Ordinal);

            await using (var connect = cli.Start("integrations", "connect", "github"))
            {
                var oauthUrl = await NextUrlAsync(urls, 2, connect);
                var done = await FollowAsBrowserAsync(oauthUrl, until: u => u.AbsolutePath == "/api/v1/auth/callback");
                Assert.True((int)done.Status < 400, done.ToString());
                var result = await connect.WaitAsync(Wait);
                Assert.True(result.ExitCode == 0, result.ToString());
                Assert.Contains("connected github", result.Stdout, StringComparison.Ordinal);
            }
            var user = await cli.RunOkAsync("integrations", "invoke", "github", "get_user", "per_page=5");
            Assert.Equal("octocat", (string?)JsonNode.Parse(user.Stdout)!["login"]);
            Assert.Equal("5", (string?)JsonNode.Parse(user.Stdout)!["per_page"]);
            var missing = await cli.RunAsync("integrations", "invoke", "github", "not_found");
            Assert.True(missing.ExitCode == 3, missing.ToString());
            Assert.Equal(2, (await cli.RunAsync("integrations", "invoke", "github", "get_user", "no-equals-sign")).ExitCode);

            // Tokens for scripts: the value printed once, usable, revocable.
            var created = JsonNode.Parse((await cli.RunOkAsync("tokens", "create", "--name", "ci", "-o", "json")).Stdout)!;
            var ciToken = (string)created["token"]!;
            var plain = (await cli.RunOkAsync("tokens", "create", "--name", "plain")).Stdout.Trim();
            Assert.StartsWith("gst_api_", plain, StringComparison.Ordinal);
            Assert.Equal(3, JsonNode.Parse((await cli.RunOkAsync("tokens", "-o", "json")).Stdout)!.AsArray().Count);
            cli.Environment["BATON_TOKEN"] = ciToken;
            await cli.RunOkAsync("integrations", "ls");
            cli.Environment["BATON_TOKEN"] = null;
            await cli.RunOkAsync("tokens", "revoke", (string)created["id"]!);
            cli.Environment["BATON_TOKEN"] = ciToken;
            await Eventually.WaitAsync(async () => (await cli.RunAsync("integrations", "ls")).ExitCode == 4, Wait, "the revoked token refused");
            cli.Environment["BATON_TOKEN"] = null;
            Assert.Equal(2, (await cli.RunAsync("tokens", "revoke")).ExitCode);

            // Logout revokes the CLI's own token.
            var logout = JsonNode.Parse((await cli.RunOkAsync("logout", "-o", "json")).Stdout)!;
            Assert.True((bool)logout["revoked"]!, logout.ToJsonString());
            Assert.False(File.Exists(file));
            cli.Environment["BATON_URL"] = url;
            cli.Environment["BATON_GRPC_URL"] = grpc;
            cli.Environment["BATON_TOKEN"] = cliToken;
            await Eventually.WaitAsync(async () => (await cli.RunAsync("integrations", "ls")).ExitCode == 4, Wait, "the logged-out token refused");
        }
        finally
        {
            TestEnvironment.DeleteQuietly(scratch);
            await fixture.DisposeAsync();
        }
    }

    private sealed record BrowserPage(HttpStatusCode Status, Uri Url, string Body);

    /// <summary>The URL the n-th time the CLI "opened the browser".</summary>
    private static async Task<string> NextUrlAsync(string file, int count, RunningCli cli)
    {
        string[] lines = [];
        await Eventually.WaitAsync(() =>
        {
            lines = File.Exists(file) ? File.ReadAllLines(file) : [];
            return Task.FromResult(lines.Length >= count);
        }, Wait, $"the CLI opened the browser; its stderr: {cli.Stderr}");
        return lines[count - 1];
    }

    /// <summary>Follows redirects one by one as a browser does (no Baton credentials) until the page is served or <paramref name="until"/> says stop.</summary>
    private static async Task<BrowserPage> FollowAsBrowserAsync(string start, Func<Uri, bool> until)
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(60) };
        var url = new Uri(start);
        for (var hop = 0; hop < 10; hop++)
        {
            using var response = await browser.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            if (response.Headers.Location is not { } next || until(url))
            {
                return new BrowserPage(response.StatusCode, url, body);
            }
            url = next.IsAbsoluteUri ? next : new Uri(url, next);
        }
        throw new InvalidOperationException($"too many redirects from {start}");
    }
}
