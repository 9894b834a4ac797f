using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Integrations.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed partial class TokenTests(IntegrationsFixture fixture)
{
    [Fact]
    public async Task ApiToken_Lifecycle_CreateUseListRevoke_RevokedAtOnceThroughTheGateway()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("tokens"));
        using var client = fixture.Client(session);

        using var create = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "ci" });
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var created = (await create.Content.ReadFromJsonAsync<JsonObject>())!;
        var token = created["token"]!.GetValue<string>();
        Assert.Matches(ApiTokenPattern(), token);
        Assert.Equal("ci", created["name"]!.GetValue<string>());
        var expiresAt = DateTimeOffset.Parse(created["expires_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromHours(719), TimeSpan.FromHours(720));

        using var withToken = fixture.Client(token);
        using (var list = await withToken.GetAsync("/api/v1/integrations"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        using var listed = await client.GetAsync("/api/v1/tokens");
        var tokens = (await listed.Content.ReadFromJsonAsync<JsonArray>())!;
        var entry = Assert.Single(tokens)!.AsObject();
        Assert.Equal(created["id"]!.GetValue<string>(), entry["id"]!.GetValue<string>());
        Assert.False(entry.ContainsKey("token"));
        Assert.DoesNotContain(token, tokens.ToJsonString());
        Assert.True(entry.ContainsKey("created_at") && entry.ContainsKey("scopes"));

        using var revoke = await client.DeleteAsync($"/api/v1/tokens/{created["id"]}");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.Equal("revoked", (await revoke.Content.ReadFromJsonAsync<JsonObject>())!["status"]!.GetValue<string>());

        // The gateway had the token cached a moment ago; the revocation event must evict it before it answers again.
        await Eventually.WaitAsync(async () =>
        {
            using var after = await withToken.GetAsync("/api/v1/integrations");
            return after.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(10), "revoked token refused");

        using var again = await client.DeleteAsync($"/api/v1/tokens/{created["id"]}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("token not found", (await again.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task RevokeAll_RevokesEveryTokenOfTheUserOnly()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("revokeall"));
        var other = await fixture.LoginAsync(IntegrationsFixture.NewEmail("bystander"));
        using var client = fixture.Client(session);
        var mine = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var create = await client.PostAsJsonAsync("/api/v1/tokens", new { name = $"t{i}" });
            mine.Add((await create.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>());
        }
        using var otherClient = fixture.Client(other);
        using var otherCreate = await otherClient.PostAsJsonAsync("/api/v1/tokens", new { name = "theirs" });
        var theirs = (await otherCreate.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();

        using var revoke = await client.DeleteAsync("/api/v1/tokens");
        var body = (await revoke.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("revoked", body["status"]!.GetValue<string>());
        Assert.Equal(2, body["count"]!.GetValue<int>());

        foreach (var token in mine)
        {
            using var c = fixture.Client(token);
            using var response = await c.GetAsync("/api/v1/tokens");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using var theirsClient = fixture.Client(theirs);
        using var stillValid = await theirsClient.GetAsync("/api/v1/tokens");
        Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
    }

    [Fact]
    public async Task Revocation_IsRefusedOnASecondGatewayReplica()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("replica"));
        using var client = fixture.Client(session);
        using var create = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "replicated" });
        var created = (await create.Content.ReadFromJsonAsync<JsonObject>())!;
        var token = created["token"]!.GetValue<string>();

        await using var second = await SecondGateway.StartAsync(fixture.System);
        using var onSecond = new HttpClient { BaseAddress = second.Url };
        onSecond.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using (var cached = await onSecond.GetAsync("/api/v1/tokens"))
        {
            Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        }

        using var revoke = await client.DeleteAsync($"/api/v1/tokens/{created["id"]}");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        await Eventually.WaitAsync(async () =>
        {
            using var after = await onSecond.GetAsync("/api/v1/tokens");
            return after.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(10), "the second replica refuses the revoked token");
    }

    [Fact]
    public async Task Scopes_MustNameIntegrations_AndLimitWhatTheTokenInvokes()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("scopes"));
        using var client = fixture.Client(session);
        using var unknown = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "bad", scopes = "github nope" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal("unknown scope \"nope\"", (await unknown.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());

        using var connect = await client.PostAsJsonAsync("/api/v1/auth/connect-manual", new { integration = "apikeys", credential = "k" });
        Assert.Equal(HttpStatusCode.OK, connect.StatusCode);
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();

        using var create = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "apikeys only", scopes = "apikeys" });
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        using var scoped = fixture.Client((await create.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>());

        using var allowed = await scoped.GetAsync("/api/v1/apikeys/whoami");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var denied = await scoped.GetAsync("/api/v1/github/get_user");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        using var wider = await scoped.PostAsJsonAsync("/api/v1/tokens", new { name = "wider", scopes = "github" });
        Assert.Equal(HttpStatusCode.Forbidden, wider.StatusCode);
    }

    [Fact]
    public async Task Lifetime_IsCappedByApiTokenTtl_AsTheGatewayTokenConfigReports()
    {
        using var admin = fixture.System.CreateClient();
        using var config = await admin.GetAsync("/api/v2/users/me/keys/tokens/tokenconfig");
        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        var maxNanoseconds = (await config.Content.ReadFromJsonAsync<JsonObject>())!["max_token_lifetime"]!.GetValue<long>();
        Assert.Equal(TimeSpan.FromHours(720).Ticks * 100, maxNanoseconds);

        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("ttl"));
        using var client = fixture.Client(session);
        using var tooLong = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "long", ttl_seconds = (long)TimeSpan.FromHours(721).TotalSeconds });
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        using var shorter = await client.PostAsJsonAsync("/api/v1/tokens", new { name = "short", ttl_seconds = 3600 });
        Assert.Equal(HttpStatusCode.Created, shorter.StatusCode);
        var expiresAt = DateTimeOffset.Parse((await shorter.Content.ReadFromJsonAsync<JsonObject>())!["expires_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(58), TimeSpan.FromMinutes(60));
    }

    [Fact]
    public async Task AdminToken_KeepsWorkingBesideUsers()
    {
        using var admin = fixture.System.CreateClient();
        using var create = await admin.PostAsJsonAsync("/api/v1/tokens", new { name = "admin's" });
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var token = (await create.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        using var asToken = fixture.Client(token);
        using var list = await asToken.GetAsync("/api/v1/tokens");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Contains((await list.Content.ReadFromJsonAsync<JsonArray>())!, t => t!["name"]!.GetValue<string>() == "admin's");
        using var revoke = await admin.DeleteAsync("/api/v1/tokens");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
    }

    [GeneratedRegex("^gst_api_[0-9a-f]{64}$")]
    private static partial Regex ApiTokenPattern();
}
