using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Integrations.Tests.Infrastructure;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed class SecurityTests(IntegrationsFixture fixture)
{
    [Fact]
    public async Task NoPlaintextSecret_IsWrittenAnywhereInTheDataDir()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("secrets"));
        var refreshBefore = fixture.ShortAuth.IssuedRefreshTokens.ToHashSet();
        (await fixture.ConnectOAuthAsync(session, "shortlived")).Dispose();
        using var client = fixture.Client(session);
        var apiKey = "manual-key-" + Guid.NewGuid().ToString("n");
        (await client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", credential = apiKey })).Dispose();
        using var create = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "secret scan" });
        var apiToken = (await create.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        (await client.GetAsync("/api/v1/shortlived/get_user")).Dispose();

        var secrets = new List<string> { session, apiKey, apiToken, TestOAuthServer.ClientSecret, IntegrationsFixture.WebhookSecret };
        secrets.AddRange(fixture.ShortAuth.IssuedRefreshTokens.Where(t => !refreshBefore.Contains(t)));
        secrets.AddRange(fixture.ShortAuth.IssuedAccessTokens);
        Assert.True(secrets.Count > 6, "the flow should have issued OAuth tokens to look for");

        var files = Directory.EnumerateFiles(fixture.System.DataDir, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => f.EndsWith("integrations.db", StringComparison.Ordinal));
        foreach (var file in files)
        {
            byte[] content;
            try
            {
                content = await File.ReadAllBytesAsync(file);
            }
            catch (IOException)
            {
                continue;
            }
            foreach (var secret in secrets)
            {
                Assert.True(content.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"{Path.GetFileName(file)} contains a plaintext secret");
            }
        }
        var keyFile = Path.Combine(fixture.System.DataDir, "integrations", "encryption.key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }
    }

    [Fact]
    public async Task BadInput_Answers4xxWithTheErrorShape_Never5xx()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("badinput"));
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();
        using var client = fixture.Client(session);
        using var anonymous = fixture.Client();

        var cases = new List<(string What, Func<Task<HttpResponseMessage>> Send, int Expected)>
        {
            ("invalid JSON", () => client.PostAsync("/api/v1/tokens", Json("{bad json")), 400),
            ("wrong type", () => client.PostAsync("/api/v1/tokens", Json("""{"name": 5}""")), 400),
            ("missing name", () => client.PostAsync("/api/v1/tokens", Json("{}")), 400),
            ("huge name", () => client.PostAsJsonAsync("/api/v1/tokens", new { name = new string('x', 500) }), 400),
            ("control characters", () => client.PostAsJsonAsync("/api/v1/tokens", new { name = "a\u0001b" }), 400),
            ("unknown integration for OAuth", () => client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration = "nope" }), 404),
            ("OAuth on a manual integration", () => client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration = "apikeys" }), 400),
            ("bad connection name", () => client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration = "github", connection = "../x" }), 400),
            ("unknown connection param", () => client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration = "github", connection_params = new { x = "1" } }), 400),
            ("manual without credential", () => client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys" }), 400),
            ("manual with an unknown field", () => client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", credentials = new { wrong = "x" } }), 400),
            ("manual with a bad instance", () => client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", instance = "a/b", credential = "k" }), 400),
            ("manual on an OAuth integration", () => client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "github", credential = "k" }), 400),
            ("unknown integration", () => client.GetAsync("/api/v1/nope/op"), 404),
            ("bad instance selector", () => client.GetAsync("/api/v1/github/get_user?_instance=a%2Fb"), 400),
            ("body not an object", () => client.PostAsync("/api/v1/github/create_issue", Json("[1,2]")), 400),
            ("duplicate keys in an invoke body", () => client.PostAsync("/api/v1/github/create_issue", Json("""{"owner":"a","owner":"b"}""")), 400),
            ("missing path parameter", () => client.PostAsJsonAsync("/api/v1/github/create_issue", new { owner = "acme", title = "t" }), 400),
            ("missing body parameter", () => client.PostAsJsonAsync("/api/v1/github/create_issue", new { owner = "acme", repo = "r" }), 400),
            ("body over 1 MB", () => client.PostAsync("/api/v1/github/create_issue", Json($$"""{"title":"{{new string('x', 1_100_000)}}"}""")), 413),
            ("callback without state", () => anonymous.GetAsync("/api/v1/auth/callback"), 400),
            ("callback with a forged state", () => anonymous.GetAsync("/api/v1/auth/callback?code=x&state=forged"), 400),
            ("login callback with a forged state", () => anonymous.GetAsync("/api/v1/auth/login/callback?code=x&state=forged"), 403),
            ("login callback without code", () => anonymous.GetAsync("/api/v1/auth/login/callback"), 400),
            ("login with a bad port", () => anonymous.PostAsJsonAsync("/api/v1/auth/login", new { callback_port = 70000 }), 400),
            ("pending connection with a forged token", () => anonymous.PostAsync("/api/v1/auth/pending-connection", Form(("pending_token", "forged"))), 410),
            ("pending connection without a token", () => anonymous.PostAsync("/api/v1/auth/pending-connection", Form()), 400),
            ("pending connection as JSON", () => anonymous.PostAsync("/api/v1/auth/pending-connection", Json("{}")), 415),
            ("disconnect unknown integration", () => client.DeleteAsync("/api/v1/integrations/nope"), 404),
            ("disconnect what is not connected", () => client.DeleteAsync("/api/v1/integrations/apikeys"), 404),
            ("revoke unknown token", () => client.DeleteAsync("/api/v1/tokens/nope"), 404),
            ("operations of unknown integration", () => client.GetAsync("/api/v1/integrations/nope/operations"), 404),
            ("webhook with a valid signature over invalid JSON", () => anonymous.SendAsync(SignedWebhook("{not json")), 400),
            ("unauthenticated integrations list", () => anonymous.GetAsync("/api/v1/integrations"), 401),
            ("a forged API token", () => fixture.Client("gst_api_" + new string('0', 64)).GetAsync("/api/v1/tokens"), 401),
        };
        foreach (var (what, send, expected) in cases)
        {
            using var response = await send();
            var body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == expected, $"{what}: expected {expected}, got {(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
            var error = JsonNode.Parse(body)?["error"]?.GetValue<string>();
            Assert.False(string.IsNullOrEmpty(error), $"{what}: no {{\"error\"}} message in {body[..Math.Min(body.Length, 300)]}");
        }
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) => new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    private static HttpRequestMessage SignedWebhook(string body)
    {
        var signature = Convert.ToHexString(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(IntegrationsFixture.WebhookSecret), Encoding.UTF8.GetBytes(body)));
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/bindings/github_events/events") { Content = Json(body) };
        request.Headers.Add("X-Webhook-Signature", signature);
        return request;
    }
}
