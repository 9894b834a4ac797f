using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed class ConnectAndInvokeTests(IntegrationsFixture fixture)
{
    [Fact]
    public async Task Invoke_BeforeConnecting_Returns412()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("noconn"));
        using var client = fixture.Client(session);
        using var response = await client.GetAsync("/api/v1/github/get_user");
        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("no token stored for integration \"github\"; connect via OAuth first", error!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task OAuthConnect_RoundTrip_ThenInvokeGetAndPostWithTheIssuedBearer()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("oauth"));
        using var client = fixture.Client(session);

        using var start = await client.PostAsJsonAsync("/api/v1/auth/start-oauth", new { integration = "github" });
        var started = (await start.Content.ReadFromJsonAsync<JsonObject>())!;
        var query = QueryHelpers.ParseQuery(new Uri(started["url"]!.GetValue<string>()).Query);
        Assert.Equal(started["state"]!.GetValue<string>(), query["state"].ToString());
        Assert.Equal($"{fixture.Gateway.ToString().TrimEnd('/')}/api/v1/auth/callback", query["redirect_uri"].ToString());
        Assert.Equal("S256", query["code_challenge_method"].ToString());
        Assert.Equal("repo", query["scope"].ToString());

        using var callback = await fixture.ConnectOAuthAsync(session, "github");
        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Contains("github connected", await callback.Content.ReadAsStringAsync());

        using var list = await client.GetAsync("/api/v1/integrations");
        var github = (await list.Content.ReadFromJsonAsync<JsonArray>())!.Single(i => i!["name"]!.GetValue<string>() == "github")!;
        Assert.True(github["connected"]!.GetValue<bool>());
        Assert.Equal("default", github["instances"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("oauth", github["auth_types"]![0]!.GetValue<string>());
        Assert.StartsWith("<svg", github["icon_svg"]!.GetValue<string>());

        using var get = await client.GetAsync("/api/v1/github/get_user?per_page=5");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var user = (await get.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("octocat", user["login"]!.GetValue<string>());
        Assert.Equal("5", user["per_page"]!.GetValue<string>());
        var seen = fixture.Upstream.Requests.Last(r => r.Path == "/user");
        Assert.Contains(seen.Authorization!["Bearer ".Length..], fixture.Auth.IssuedAccessTokens);

        using var post = await client.PostAsJsonAsync("/api/v1/github/create_issue", new { owner = "acme", repo = "baton", title = "Hello", labels = new[] { "bug" } });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal("application/json", post.Content.Headers.ContentType!.MediaType);
        var issue = (await post.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("acme", issue["owner"]!.GetValue<string>());
        Assert.Equal("bug", issue["labels"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Invoke_PassesUpstreamStatusBodyAndContentTypeThrough()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("passthrough"));
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();
        using var client = fixture.Client(session);

        using var teapot = await client.GetAsync("/api/v1/github/teapot");
        Assert.Equal((HttpStatusCode)418, teapot.StatusCode);
        Assert.Equal("text/plain", teapot.Content.Headers.ContentType!.MediaType);
        Assert.Equal("short and stout", await teapot.Content.ReadAsStringAsync());

        // An upstream error body that looks like a gRPC status must not be reshaped by the gateway.
        using var notFound = await client.GetAsync("/api/v1/github/not_found");
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("upstream says no", (await notFound.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Invoke_UpstreamTooSlow_Returns504()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("slow"));
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();
        using var client = fixture.Client(session);
        using var response = await client.GetAsync("/api/v1/github/slow");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream service timed out", (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Invoke_WithExpiredAccessToken_RefreshesItFirst()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("refresh"));
        using (var callback = await fixture.ConnectOAuthAsync(session, "shortlived"))
        {
            Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        }
        var firstToken = fixture.ShortAuth.IssuedAccessTokens.ToHashSet();
        var refreshesBefore = fixture.ShortAuth.RefreshCount;
        using var client = fixture.Client(session);

        // The provider's access tokens live 5 s, inside the 10 s refresh margin: the stored one counts as expired.
        using var response = await client.GetAsync("/api/v1/shortlived/get_user");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(fixture.ShortAuth.RefreshCount > refreshesBefore, "the invocation should have used the refresh token");
        var used = fixture.Upstream.Requests.Last(r => r.Path == "/user").Authorization!["Bearer ".Length..];
        Assert.DoesNotContain(used, firstToken);
        Assert.Contains(used, fixture.ShortAuth.IssuedAccessTokens);
    }

    [Fact]
    public async Task Invoke_WhenRefreshIsRefused_Returns412AndDoesNotCallTheUpstream()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("refused"));
        (await fixture.ConnectOAuthAsync(session, "shortlived")).Dispose();
        using var client = fixture.Client(session);
        var upstreamCalls = fixture.Upstream.Requests.Count;
        fixture.ShortAuth.RefuseRefresh = true;
        try
        {
            using var response = await client.GetAsync("/api/v1/shortlived/get_user");
            Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
            var message = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>();
            Assert.Contains("refreshing the token for integration \"shortlived\" was refused", message);
            Assert.Contains("invalid_grant", message);
        }
        finally
        {
            fixture.ShortAuth.RefuseRefresh = false;
        }
        Assert.Equal(upstreamCalls, fixture.Upstream.Requests.Count);
    }

    [Fact]
    public async Task ManualCredentials_AreSentInTheMappedHeader()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("manual"));
        using var client = fixture.Client(session);
        var key = "key-" + Guid.NewGuid().ToString("n");
        using var connect = await client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", credentials = new { api_key = key } });
        Assert.Equal(HttpStatusCode.OK, connect.StatusCode);
        var result = (await connect.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("connected", result["status"]!.GetValue<string>());
        Assert.DoesNotContain(key, result.ToJsonString());

        using var response = await client.GetAsync("/api/v1/apikeys/whoami");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = fixture.Upstream.Requests.Last(r => r.Path == "/whoami");
        Assert.Equal(key, seen.ApiKey);
        Assert.Null(seen.Authorization);
        Assert.Equal("baton-tests", seen.ClientHeader);
    }

    [Fact]
    public async Task SeveralInstances_InvokeIsAmbiguousUntilOneIsChosen()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("ambiguous"));
        using var client = fixture.Client(session);
        foreach (var instance in new[] { "work", "personal" })
        {
            using var connect = await client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", instance, credential = $"key-{instance}" });
            Assert.Equal(HttpStatusCode.OK, connect.StatusCode);
        }

        using var ambiguous = await client.GetAsync("/api/v1/apikeys/whoami");
        Assert.Equal(HttpStatusCode.Conflict, ambiguous.StatusCode);
        Assert.Contains("_instance", (await ambiguous.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());

        using var chosen = await client.GetAsync("/api/v1/apikeys/whoami?_instance=work");
        Assert.Equal(HttpStatusCode.OK, chosen.StatusCode);
        Assert.Equal("key-work", fixture.Upstream.Requests.Last(r => r.Path == "/whoami").ApiKey);

        using var postChosen = await client.PostAsJsonAsync("/api/v1/apikeys/whoami", new { _instance = "personal" });
        Assert.Equal(HttpStatusCode.OK, postChosen.StatusCode);
        Assert.Equal("key-personal", fixture.Upstream.Requests.Last(r => r.Path == "/whoami").ApiKey);

        using var disconnectAmbiguous = await client.DeleteAsync("/api/v1/integrations/apikeys");
        Assert.Equal(HttpStatusCode.Conflict, disconnectAmbiguous.StatusCode);
        using var disconnect = await client.DeleteAsync("/api/v1/integrations/apikeys?instance=work");
        Assert.Equal(HttpStatusCode.OK, disconnect.StatusCode);
        Assert.Equal("disconnected", (await disconnect.Content.ReadFromJsonAsync<JsonObject>())!["status"]!.GetValue<string>());

        using var single = await client.GetAsync("/api/v1/apikeys/whoami");
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        Assert.Equal("key-personal", fixture.Upstream.Requests.Last(r => r.Path == "/whoami").ApiKey);
    }

    [Fact]
    public async Task DiscoveredCandidates_GoThroughThePendingConnectionChooser()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("chooser"));
        using var client = fixture.Client(session);
        using var connect = await client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "tenants", credential = "tenant-token" });
        Assert.Equal(HttpStatusCode.OK, connect.StatusCode);
        var result = (await connect.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("selection_required", result["status"]!.GetValue<string>());
        Assert.Equal("/api/v1/auth/pending-connection", result["selection_url"]!.GetValue<string>());
        var pendingToken = result["pending_token"]!.GetValue<string>();

        // The chooser page, as a browser without Baton credentials gets it.
        using var browser = fixture.Client();
        using var page = await browser.PostAsync("/api/v1/auth/pending-connection", new FormUrlEncodedContent(new Dictionary<string, string> { ["pending_token"] = pendingToken }));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("Tenant One", html);
        Assert.Contains("Tenant Two", html);
        Assert.Contains("name=\"candidate_index\" value=\"1\"", html);

        using var choose = await browser.PostAsync("/api/v1/auth/pending-connection",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["pending_token"] = pendingToken, ["candidate_index"] = "1" }));
        Assert.Equal(HttpStatusCode.OK, choose.StatusCode);
        Assert.Contains("tenants connected", await choose.Content.ReadAsStringAsync());

        using var reuse = await browser.PostAsync("/api/v1/auth/pending-connection",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["pending_token"] = pendingToken, ["candidate_index"] = "0" }));
        Assert.Equal(HttpStatusCode.Gone, reuse.StatusCode);

        using var info = await client.GetAsync("/api/v1/tenants/info");
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.Equal("two", (await info.Content.ReadFromJsonAsync<JsonObject>())!["tenant"]!.GetValue<string>());
    }

    [Fact]
    public async Task Operations_ListTheCatalogShape_AndOpenApiOperationsAreInvocable()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("catalog"));
        using var client = fixture.Client(session);
        using var response = await client.GetAsync("/api/v1/integrations/github/operations");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var operations = (await response.Content.ReadFromJsonAsync<JsonArray>())!;
        var createIssue = operations.Single(o => o!["id"]!.GetValue<string>() == "create_issue")!;
        Assert.Equal("github", createIssue["providerId"]!.GetValue<string>());
        Assert.Equal("POST", createIssue["method"]!.GetValue<string>());
        Assert.Equal("rest", createIssue["transport"]!.GetValue<string>());
        Assert.False(createIssue["readOnly"]!.GetValue<bool>());
        var owner = createIssue["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "owner")!;
        Assert.Equal("path", owner["location"]!.GetValue<string>());
        Assert.True(owner["required"]!.GetValue<bool>());
        Assert.Contains("title", createIssue["inputSchema"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()));

        using var petstore = await client.GetAsync("/api/v1/integrations/petstore/operations");
        var petOps = (await petstore.Content.ReadFromJsonAsync<JsonArray>())!;
        Assert.Equal(["brew"], petOps.Select(o => o!["id"]!.GetValue<string>()));

        using var brew = await client.GetAsync("/api/v1/petstore/brew");
        Assert.Equal((HttpStatusCode)418, brew.StatusCode);

        using var unknown = await client.GetAsync("/api/v1/petstore/listTenants");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("operation \"listTenants\" not found on integration \"petstore\"", (await unknown.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task EditingIntegrationsYaml_AppliesLive_AndABrokenEditIsIgnored()
    {
        var path = Path.Combine(fixture.ConfigDir, "integrations.yaml");
        var original = await File.ReadAllTextAsync(path);
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("reload"));
        using var client = fixture.Client(session);
        try
        {
            await File.WriteAllTextAsync(path, original.Replace("integrations:\n", "integrations:\n  weather:\n    plugin:\n      base_url: https://weather.example.com\n      operations:\n        - {name: today, path: /today}\n", StringComparison.Ordinal));
            await Baton.Testing.Eventually.WaitAsync(async () =>
            {
                using var list = await client.GetAsync("/api/v1/integrations");
                return (await list.Content.ReadAsStringAsync()).Contains("\"weather\"", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(30), "the new integration is listed");

            // A broken edit is logged and ignored: the last good settings stay.
            var ignoredBefore = CountIgnored();
            await File.WriteAllTextAsync(path, original + "\nunknown_section: {}\n");
            await Baton.Testing.Eventually.WaitAsync(() => Task.FromResult(CountIgnored() > ignoredBefore), TimeSpan.FromSeconds(30), "the broken edit is reported");
            using (var list = await client.GetAsync("/api/v1/integrations"))
            {
                Assert.Contains("\"weather\"", await list.Content.ReadAsStringAsync());
            }

            await File.WriteAllTextAsync(path, original);
            await Baton.Testing.Eventually.WaitAsync(async () =>
            {
                using var list = await client.GetAsync("/api/v1/integrations");
                return !(await list.Content.ReadAsStringAsync()).Contains("\"weather\"", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(30), "the integration is gone again");
        }
        finally
        {
            await File.WriteAllTextAsync(path, original);
        }
    }

    private int CountIgnored() => fixture.System.Output.Split('\n').Count(line => line.Contains("Ignored an edit of", StringComparison.Ordinal));
}
