using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed class LoginTests(IntegrationsFixture fixture)
{
    [Fact]
    public async Task AuthInfo_IsOpenAndNamesTheProvider()
    {
        using var client = fixture.Client();
        using var response = await client.GetAsync("/api/v1/auth/info");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var info = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("oidc", info["provider"]!.GetValue<string>());
        Assert.Equal("Test SSO", info["display_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task OidcLogin_SetsTheSessionCookie_WhichTheGatewayAcceptsOnEveryRoute()
    {
        var email = IntegrationsFixture.NewEmail("login");
        using var client = fixture.Client();
        var (callback, loginUrl) = await fixture.StartLoginAsync(client, email);
        var login = QueryHelpers.ParseQuery(new Uri(loginUrl).Query);
        Assert.False(string.IsNullOrEmpty(login["nonce"]), "the login request carries a nonce");
        Assert.Equal("S256", login["code_challenge_method"].ToString());
        Assert.Equal($"{fixture.Gateway.ToString().TrimEnd('/')}/api/v1/auth/login/callback", login["redirect_uri"].ToString());

        using var response = await client.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(email, (await response.Content.ReadFromJsonAsync<JsonObject>())!["email"]!.GetValue<string>());
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("session_token=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
        var session = cookie["session_token=".Length..cookie.IndexOf(';')];
        Assert.StartsWith("gst_session_", session);

        using var withCookie = fixture.Client();
        foreach (var path in new[] { "/api/v1/tokens", "/api/projects", "/api/v2/deployment/stats" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("Cookie", $"session_token={session}");
            using var answer = await withCookie.SendAsync(request);
            Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{path} answered {(int)answer.StatusCode} to a session cookie");
        }

        using var replay = await client.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Forbidden, replay.StatusCode);
    }

    [Fact]
    public async Task OidcLogin_WithATamperedIdToken_IsRefused()
    {
        using var client = fixture.Client();
        var (callback, _) = await fixture.StartLoginAsync(client, IntegrationsFixture.NewEmail("victim"));
        fixture.Auth.TamperIdToken = true;
        try
        {
            using var response = await client.GetAsync(callback);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("login failed: the id_token is not valid", (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        finally
        {
            fixture.Auth.TamperIdToken = false;
        }
    }

    [Fact]
    public async Task Logout_EndsTheSessionEverywhere()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("logout"));
        using var client = fixture.Client(session);
        using (var before = await client.GetAsync("/api/v1/tokens"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout");
        request.Headers.Add("Cookie", $"session_token={session}");
        using var anonymous = fixture.Client();
        using var logout = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal("ok", (await logout.Content.ReadFromJsonAsync<JsonObject>())!["status"]!.GetValue<string>());
        Assert.Contains(logout.Headers.GetValues("Set-Cookie"), c => c.StartsWith("session_token=;", StringComparison.Ordinal));

        await Baton.Testing.Eventually.WaitAsync(async () =>
        {
            using var after = await client.GetAsync("/api/v1/tokens");
            return after.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(10), "the ended session is refused");
    }

    [Fact]
    public async Task CliLogin_WithCallbackPort_RedirectsTheSessionToTheLoopbackListener()
    {
        using var client = fixture.Client();
        using var start = await client.PostAsJsonAsync("/api/v1/auth/login", new { state = "cli-state", callback_port = 49152 });
        var url = (await start.Content.ReadFromJsonAsync<JsonObject>())!["url"]!.GetValue<string>();
        fixture.Auth.SignInAs(QueryHelpers.ParseQuery(new Uri(url).Query)["state"].ToString(), IntegrationsFixture.NewEmail("cli"));
        using var provider = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var authorize = await provider.GetAsync(url);
        using var callback = await client.GetAsync(authorize.Headers.Location);
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        var target = callback.Headers.Location!;
        Assert.Equal("127.0.0.1", target.Host);
        Assert.Equal(49152, target.Port);
        var query = QueryHelpers.ParseQuery(target.Query);
        Assert.Equal("cli-state", query["state"].ToString());
        Assert.StartsWith("gst_session_", query["token"].ToString());
    }
}
