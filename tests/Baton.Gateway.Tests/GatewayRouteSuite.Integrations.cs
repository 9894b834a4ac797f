using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;
using static System.Net.HttpStatusCode;

namespace Baton.Gateway.Tests;

// 002_*: integrations, platform login, API tokens and operations. The integrations, the local
// upstream API behind them and the `local` login provider are set up in RouteSuiteFixture.Integrations.cs;
// the suite's client is the admin, whose connections and tokens these rows create and remove.
public sealed partial class GatewayRouteSuite
{
    private static RouteRow[] IntegrationsRows() =>
    [
        // ---- integrations ----
        Row("GET /api/v1/integrations",
            async c =>
            {
                await ConnectAsync(c, "echo");
                var list = (await c.SendJsonAsync("GET", "/api/v1/integrations", null, OK))!.AsArray();
                var echo = list.Single(i => (string?)i!["name"] == "echo")!;
                Assert.True((bool)echo["connected"]!);
                Assert.Equal("Echo", (string?)echo["display_name"]);
                Assert.Equal(["manual"], echo["auth_types"]!.AsArray().Select(t => (string?)t));
                Assert.Contains(echo["instances"]!.AsArray(), i => (string?)i!["name"] == "default" && (string?)i["connection"] is { Length: > 0 });
                Assert.Equal("api_key", (string?)echo["credential_fields"]![0]!["name"]);
                Assert.Equal("https://example.com/keys", (string?)echo["credential_fields"]![0]!["help_url"]);
                var hub = list.Single(i => (string?)i!["name"] == "hub")!;
                Assert.False((bool)hub["connected"]!);
                Assert.Equal(["oauth"], hub["auth_types"]!.AsArray().Select(t => (string?)t));
                // A connection without credentials is always usable.
                Assert.True((bool)list.Single(i => (string?)i!["name"] == "down")!["connected"]!);
                Assert.DoesNotContain(RouteSuiteFixture.EchoApiKey, list.ToJsonString(), StringComparison.Ordinal);
            },
            c => c.ErrorAsync("GET", "/api/v1/integrations", Unauthorized, authenticated: false)),
        Row("GET /api/v1/integrations/{name}/operations",
            async c =>
            {
                var operations = (await c.SendJsonAsync("GET", "/api/v1/integrations/echo/operations", null, OK))!.AsArray();
                Assert.Equal(["get_item", "create_item", "missing", "slow"], operations.Select(o => (string?)o!["id"]));
                var get = operations[0]!;
                Assert.Equal(("echo", "GET", "/items/{id}", "One item"), ((string?)get["providerId"], (string?)get["method"], (string?)get["path"], (string?)get["description"]));
                var id = get["parameters"]!.AsArray().Single(p => (string?)p!["name"] == "id")!;
                Assert.Equal(("path", true), ((string?)id["location"], (bool)id["required"]!));
                Assert.Equal("query", (string?)get["parameters"]!.AsArray().Single(p => (string?)p!["name"] == "verbose")!["location"]);
                Assert.Contains("id", get["inputSchema"]!["required"]!.AsArray().Select(r => (string?)r));
                Assert.True((bool)get["readOnly"]!);
                Assert.Equal("POST", (string?)operations[1]!["method"]);
            },
            c => c.ErrorAsync("GET", "/api/v1/integrations/nope/operations", NotFound, mentions: "nope"),
            c => c.ErrorAsync("GET", "/api/v1/integrations/echo/operations", Unauthorized, authenticated: false)),
        Row("DELETE /api/v1/integrations/{name}",
            async c =>
            {
                await ConnectAsync(c, "spare");
                Assert.True(await ConnectedAsync(c, "spare"));
                Assert.Equal("disconnected", (string?)(await c.SendJsonAsync("DELETE", "/api/v1/integrations/spare", null, OK))!["status"]);
                Assert.False(await ConnectedAsync(c, "spare"));
                // With two instances the one to remove must be named (?instance=).
                await ConnectAsync(c, "spare", "first");
                await ConnectAsync(c, "spare", "second");
                await c.ErrorAsync("DELETE", "/api/v1/integrations/spare", Conflict, mentions: "instance");
                await c.SendJsonAsync("DELETE", "/api/v1/integrations/spare?instance=first", null, OK);
                Assert.Equal(["second"], await InstancesAsync(c, "spare"));
                await c.SendJsonAsync("DELETE", "/api/v1/integrations/spare?instance=second", null, OK);
                Assert.Empty(await InstancesAsync(c, "spare"));
            },
            c => c.ErrorAsync("DELETE", "/api/v1/integrations/spare", NotFound, mentions: "no connection"),
            c => c.ErrorAsync("DELETE", "/api/v1/integrations/nope", NotFound, mentions: "nope"),
            c => c.ErrorAsync("DELETE", "/api/v1/integrations/spare?instance=bad%20name", BadRequest, mentions: "instance"),
            c => c.ErrorAsync("DELETE", "/api/v1/integrations/spare", Unauthorized, authenticated: false)),

        // ---- connection flows ----
        Row("POST /api/v1/auth/start-oauth",
            async c =>
            {
                var started = (await c.SendJsonAsync("POST", "/api/v1/auth/start-oauth", new { integration = "hub" }, OK))!;
                var url = new Uri((string)started["url"]!);
                Assert.Equal(new Uri(c.UpstreamUrl, "authorize").GetLeftPart(UriPartial.Path), url.GetLeftPart(UriPartial.Path));
                var query = QueryHelpers.ParseQuery(url.Query);
                Assert.Equal("code", query["response_type"].ToString());
                Assert.Equal("routes-client", query["client_id"].ToString());
                Assert.Equal("/api/v1/auth/callback", new Uri(query["redirect_uri"].ToString()).AbsolutePath);
                Assert.Equal("repo", query["scope"].ToString());
                Assert.Equal((string?)started["state"], query["state"].ToString());
                Assert.Equal("S256", query["code_challenge_method"].ToString());
                Assert.DoesNotContain("routes-secret", url.ToString(), StringComparison.Ordinal);
            },
            c => c.ErrorAsync("POST", "/api/v1/auth/start-oauth", BadRequest, new { connection = "default" }, mentions: "integration is required"),
            c => c.ErrorAsync("POST", "/api/v1/auth/start-oauth", NotFound, new { integration = "nope" }, mentions: "nope"),
            c => c.ErrorAsync("POST", "/api/v1/auth/start-oauth", BadRequest, new { integration = "echo" }, mentions: "OAuth"),
            c => c.ErrorAsync("POST", "/api/v1/auth/start-oauth", Unauthorized, new { integration = "hub" }, authenticated: false)),
        Row("POST /api/v1/auth/connect-manual",
            async c =>
            {
                (await c.SendAsync("DELETE", "/api/v1/integrations/spare")).Dispose();
                var connected = (await c.SendJsonAsync("POST", "/api/v1/auth/connect-manual",
                    new { integration = "spare", credentials = new Dictionary<string, string> { ["api_key"] = RouteSuiteFixture.EchoApiKey } }, OK))!;
                Assert.Equal(("connected", "spare"), ((string?)connected["status"], (string?)connected["integration"]));
                // The stored key is what the upstream now receives.
                Assert.True((bool)(await c.SendJsonAsync("GET", "/api/v1/spare/whoami", null, OK))!["ok"]!);
                await c.SendJsonAsync("DELETE", "/api/v1/integrations/spare", null, OK);
            },
            c => c.ErrorAsync("POST", "/api/v1/auth/connect-manual", BadRequest, new { integration = "spare" }, mentions: "credential"),
            c => c.ErrorAsync("POST", "/api/v1/auth/connect-manual", BadRequest,
                new { integration = "spare", credentials = new Dictionary<string, string> { ["password"] = "x" } }, mentions: "unknown credential"),
            c => c.ErrorAsync("POST", "/api/v1/auth/connect-manual", NotFound, new { integration = "nope", credential = "k" }, mentions: "nope"),
            c => c.ErrorAsync("POST", "/api/v1/auth/connect-manual", BadRequest, new { integration = "hub", credential = "k" }, mentions: "manual"),
            c => c.ErrorAsync("POST", "/api/v1/auth/connect-manual", Unauthorized, new { integration = "spare", credential = "k" }, authenticated: false)),

        // ---- invocation ----
        Row("GET /api/v1/{integration}/{operation}",
            async c =>
            {
                await ConnectAsync(c, "echo");
                using (var response = await c.SendAsync("GET", "/api/v1/echo/get_item?id=42&verbose=true"))
                {
                    Assert.Equal(OK, response.StatusCode);
                    Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
                    var item = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                    Assert.Equal(("42", "true"), ((string?)item["id"], (string?)item["verbose"]));
                }
                var call = c.UpstreamCalls.Last(r => r.Path == "/items/42");
                Assert.Equal(("GET", RouteSuiteFixture.EchoApiKey, "?verbose=true"), (call.Method, call.ApiKey, call.Query));
                // The upstream's own status, body and content type pass through.
                using var missing = await c.SendAsync("GET", "/api/v1/echo/missing");
                Assert.Equal(NotFound, missing.StatusCode);
                Assert.Equal("text/plain", missing.Content.Headers.ContentType?.MediaType);
                Assert.Equal("no such item", await missing.Content.ReadAsStringAsync());
            },
            c => c.ErrorAsync("GET", "/api/v1/nope/get_item", NotFound, mentions: "nope"),
            c => c.ErrorAsync("GET", "/api/v1/echo/nope", NotFound, mentions: "nope"),
            c => c.ErrorAsync("GET", "/api/v1/echo/get_item?verbose=true", BadRequest, mentions: "parameter \\\"id\\\""),
            c => c.ErrorAsync("GET", "/api/v1/echo/get_item?id=1&_instance=bad%20name", BadRequest, mentions: "instance"),
            c => c.ErrorAsync("GET", "/api/v1/hub/me", PreconditionFailed, mentions: "no token stored for integration \\\"hub\\\""),
            AmbiguousInstanceAsync,
            c => c.ErrorAsync("GET", "/api/v1/down/ping", BadGateway, mentions: "upstream"),
            c => c.ErrorAsync("GET", "/api/v1/echo/slow", GatewayTimeout, mentions: "timed out"),
            c => c.ErrorAsync("GET", "/api/v1/echo/get_item?id=1", Unauthorized, authenticated: false)),
        Row("POST /api/v1/{integration}/{operation}",
            async c =>
            {
                await ConnectAsync(c, "echo");
                var title = "hello " + Guid.NewGuid().ToString("N")[..6];
                var created = (await c.SendJsonAsync("POST", "/api/v1/echo/create_item", new { title, tags = new[] { "a", "b" } }, Created))!;
                Assert.Equal((true, title), ((bool)created["created"]!, (string?)created["title"]));
                Assert.Equal(["a", "b"], created["tags"]!.AsArray().Select(t => (string?)t));
                var call = c.UpstreamCalls.Last(r => r.Path == "/items" && r.Body.Contains(title, StringComparison.Ordinal));
                Assert.Equal(("POST", RouteSuiteFixture.EchoApiKey), (call.Method, call.ApiKey));
                Assert.Equal(title, (string?)JsonNode.Parse(call.Body)!["title"]);
            },
            c => c.ErrorAsync("POST", "/api/v1/echo/create_item", BadRequest, new { tags = new[] { "a" } }, mentions: "parameter \\\"title\\\""),
            c => c.ErrorAsync("POST", "/api/v1/echo/create_item", BadRequest, "[1, 2]", mentions: "JSON object"),
            c => c.ErrorAsync("POST", "/api/v1/echo/create_item", BadRequest, "{\"title\": ", mentions: "JSON"),
            c => c.ErrorAsync("POST", "/api/v1/echo/create_item", RequestEntityTooLarge, new { title = new string('x', 1024 * 1024 + 16) }),
            c => c.ErrorAsync("POST", "/api/v1/echo/nope", NotFound, new { title = "t" }, mentions: "nope"),
            c => c.ErrorAsync("POST", "/api/v1/hub/me", PreconditionFailed, new { }, mentions: "no token stored"),
            c => c.ErrorAsync("POST", "/api/v1/echo/create_item", Unauthorized, new { title = "t" }, authenticated: false)),

        // ---- API tokens ----
        Row("POST /api/v1/tokens",
            async c =>
            {
                await ConnectAsync(c, "echo");
                var created = (await c.SendJsonAsync("POST", "/api/v1/tokens", new { name = "ci", scopes = "echo" }, Created))!;
                var token = (string)created["token"]!;
                Assert.Matches(ApiToken(), token);
                Assert.Equal("ci", (string?)created["name"]);
                var expiresAt = DateTimeOffset.Parse((string)created["expires_at"]!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(expiresAt - DateTimeOffset.UtcNow, TimeSpan.FromHours(719), TimeSpan.FromHours(720));
                // The token is a credential of its own at the gateway, limited to its scopes.
                var item = await AnswerAsync(c, "GET", "/api/v1/echo/get_item?id=7", bearer: token);
                Assert.True(item.Status == OK, item.Text);
                ExpectError(await AnswerAsync(c, "GET", "/api/v1/hub/me", bearer: token), Forbidden, "scopes");
                await c.SendJsonAsync("DELETE", $"/api/v1/tokens/{created["id"]}", null, OK);
            },
            c => c.ErrorAsync("POST", "/api/v1/tokens", BadRequest, new { scopes = "echo" }, mentions: "name is required"),
            c => c.ErrorAsync("POST", "/api/v1/tokens", BadRequest, new { name = "x", scopes = "echo nope" }, mentions: "unknown scope \\\"nope\\\""),
            c => c.ErrorAsync("POST", "/api/v1/tokens", BadRequest, new { name = "x", ttl_seconds = 721 * 3600 }, mentions: "ttl_seconds"),
            c => c.ErrorAsync("POST", "/api/v1/tokens", Unauthorized, new { name = "x" }, authenticated: false)),
        Row("GET /api/v1/tokens",
            async c =>
            {
                var created = (await c.SendJsonAsync("POST", "/api/v1/tokens", new { name = "listed", scopes = "echo hub" }, Created))!;
                var list = (await c.SendJsonAsync("GET", "/api/v1/tokens", null, OK))!.AsArray();
                var entry = list.Single(t => (string?)t!["id"] == (string?)created["id"])!.AsObject();
                Assert.Equal(("listed", "echo hub"), ((string?)entry["name"], (string?)entry["scopes"]));
                Assert.Equal((string?)created["expires_at"], (string?)entry["expires_at"]);
                Assert.True(entry.ContainsKey("created_at"));
                Assert.False(entry.ContainsKey("token"));
                Assert.DoesNotContain((string)created["token"]!, list.ToJsonString(), StringComparison.Ordinal);
                await c.SendJsonAsync("DELETE", $"/api/v1/tokens/{created["id"]}", null, OK);
            },
            c => c.ErrorAsync("GET", "/api/v1/tokens", Unauthorized, authenticated: false)),
        Row("DELETE /api/v1/tokens/{id}",
            async c =>
            {
                var created = (await c.SendJsonAsync("POST", "/api/v1/tokens", new { name = "revoked" }, Created))!;
                var token = (string)created["token"]!;
                Assert.Equal(OK, (await AnswerAsync(c, "GET", "/api/v1/integrations", bearer: token)).Status);
                Assert.Equal("revoked", (string?)(await c.SendJsonAsync("DELETE", $"/api/v1/tokens/{created["id"]}", null, OK))!["status"]);
                await RefusedAsync(c, token);
                await c.ErrorAsync("DELETE", $"/api/v1/tokens/{created["id"]}", NotFound, mentions: "token not found");
            },
            c => c.ErrorAsync("DELETE", $"/api/v1/tokens/{Unknown}", NotFound, mentions: "token not found"),
            c => c.ErrorAsync("DELETE", $"/api/v1/tokens/{Unknown}", Unauthorized, authenticated: false)),
        Row("DELETE /api/v1/tokens",
            async c =>
            {
                var tokens = new List<string>();
                foreach (var name in new[] { "one", "two" })
                {
                    tokens.Add((string)(await c.SendJsonAsync("POST", "/api/v1/tokens", new { name }, Created))!["token"]!);
                }
                var revoked = (await c.SendJsonAsync("DELETE", "/api/v1/tokens", null, OK))!;
                Assert.Equal("revoked", (string?)revoked["status"]);
                Assert.True((int)revoked["count"]! >= 2, revoked.ToJsonString());
                Assert.Empty((await c.SendJsonAsync("GET", "/api/v1/tokens", null, OK))!.AsArray());
                foreach (var token in tokens)
                {
                    await RefusedAsync(c, token);
                }
                Assert.Equal(0, (int)(await c.SendJsonAsync("DELETE", "/api/v1/tokens", null, OK))!["count"]!);
            },
            c => c.ErrorAsync("DELETE", "/api/v1/tokens", Unauthorized, authenticated: false)),

        // ---- platform login ----
        Row("POST /api/v1/auth/login",
            async c =>
            {
                var session = await LoginAsync(c);
                Assert.StartsWith("gst_session_", session, StringComparison.Ordinal);
                // The session is a credential on every route: it lists this user's (empty) tokens, not the admin's.
                var tokens = await AnswerAsync(c, "GET", "/api/v1/tokens", session: session);
                Assert.True(tokens.Status == OK, tokens.Text);
                Assert.Empty(JsonNode.Parse(tokens.Text)!.AsArray());
                Assert.Equal(OK, (await AnswerAsync(c, "GET", "/api/projects", session: session)).Status);
            },
            c => c.ErrorAsync("POST", "/api/v1/auth/login", BadRequest, new { state = "s", callback_port = 70000 }, mentions: "callback_port", authenticated: false),
            c => c.ErrorAsync("POST", "/api/v1/auth/login", BadRequest, new { state = new string('s', 600) }, mentions: "state", authenticated: false)),
        Row("POST /api/v1/auth/logout",
            async c =>
            {
                var session = await LoginAsync(c);
                var logout = await AnswerAsync(c, "POST", "/api/v1/auth/logout", session: session);
                Assert.True(logout.Status == OK, logout.Text);
                Assert.Equal("ok", (string?)JsonNode.Parse(logout.Text)!["status"]);
                var cleared = logout.Headers.GetValues("Set-Cookie").Single(h => h.StartsWith("session_token=", StringComparison.Ordinal));
                Assert.Contains("expires=Thu, 01 Jan 1970", cleared, StringComparison.OrdinalIgnoreCase);
                await Eventually.WaitAsync(async () => (await AnswerAsync(c, "GET", "/api/v1/tokens", session: session)).Status == Unauthorized,
                    TimeSpan.FromSeconds(10), "the ended session is refused");
                // Logging out without a session is harmless.
                Assert.Equal("ok", (string?)(await c.SendJsonAsync("POST", "/api/v1/auth/logout", null, OK))!["status"]);
            }),
    ];

    [GeneratedRegex("^gst_api_[0-9a-f]{64}$")]
    private static partial Regex ApiToken();

    private sealed record Answer(HttpStatusCode Status, string Text, HttpResponseHeaders Headers, MediaTypeHeaderValue? ContentType);

    /// <summary>A request with a credential of its own (an API token or a session cookie) instead of the suite's admin token.</summary>
    private static async Task<Answer> AnswerAsync(RouteSuiteFixture c, string method, string path, object? body = null, string? bearer = null, string? session = null)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = c.System.GatewayUrl, Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        if (session is not null)
        {
            request.Headers.Add("Cookie", "session_token=" + session);
        }
        using var response = await client.SendAsync(request);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers, response.Content.Headers.ContentType);
    }

    private static void ExpectError(Answer answer, HttpStatusCode expected, string mentions)
    {
        Assert.True(answer.Status == expected, $"expected {(int)expected}, got {(int)answer.Status}: {answer.Text}");
        RouteSuiteFixture.AssertErrorShape(RouteFamily.Integrations, answer.ContentType, answer.Text, $"{(int)expected}");
        Assert.Contains(mentions, answer.Text, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A revoked credential is refused by the gateway (which evicts its cached validation on the revocation event).</summary>
    private static Task RefusedAsync(RouteSuiteFixture c, string token) =>
        Eventually.WaitAsync(async () => (await AnswerAsync(c, "GET", "/api/v1/integrations", bearer: token)).Status == Unauthorized,
            TimeSpan.FromSeconds(10), "the revoked token is refused");

    private static async Task ConnectAsync(RouteSuiteFixture c, string integration, string instance = "") =>
        Assert.Equal("connected", (string?)(await c.SendJsonAsync("POST", "/api/v1/auth/connect-manual",
            new { integration, instance, credential = RouteSuiteFixture.EchoApiKey }, OK))!["status"]);

    private static async Task<JsonNode> IntegrationAsync(RouteSuiteFixture c, string name) =>
        (await c.SendJsonAsync("GET", "/api/v1/integrations", null, OK))!.AsArray().Single(i => (string?)i!["name"] == name)!;

    private static async Task<bool> ConnectedAsync(RouteSuiteFixture c, string name) => (bool)(await IntegrationAsync(c, name))["connected"]!;

    private static async Task<string[]> InstancesAsync(RouteSuiteFixture c, string name) =>
        [.. (await IntegrationAsync(c, name))["instances"]!.AsArray().Select(i => (string)i!["name"]!)];

    /// <summary>Two connected instances: 409 until one is chosen with _instance (query or body).</summary>
    private static async Task AmbiguousInstanceAsync(RouteSuiteFixture c)
    {
        await ConnectAsync(c, "twin", "east");
        await ConnectAsync(c, "twin", "west");
        try
        {
            await c.ErrorAsync("GET", "/api/v1/twin/whoami", Conflict, mentions: "_instance");
            await c.ErrorAsync("POST", "/api/v1/twin/whoami", Conflict, new { }, mentions: "_instance");
            Assert.True((bool)(await c.SendJsonAsync("GET", "/api/v1/twin/whoami?_instance=west", null, OK))!["ok"]!);
            Assert.True((bool)(await c.SendJsonAsync("POST", "/api/v1/twin/whoami", new { _instance = "east" }, OK))!["ok"]!);
            await c.ErrorAsync("GET", "/api/v1/twin/whoami?_instance=north", PreconditionFailed, mentions: "north");
        }
        finally
        {
            (await c.SendAsync("DELETE", "/api/v1/integrations/twin?instance=east")).Dispose();
            (await c.SendAsync("DELETE", "/api/v1/integrations/twin?instance=west")).Dispose();
        }
    }

    /// <summary>The `local` provider's login: POST /api/v1/auth/login, then its callback sets the session_token cookie.</summary>
    private static async Task<string> LoginAsync(RouteSuiteFixture c)
    {
        var started = await AnswerAsync(c, "POST", "/api/v1/auth/login", new { state = "cli-state" });
        Assert.True(started.Status == OK, started.Text);
        var url = new Uri((string)JsonNode.Parse(started.Text)!["url"]!);
        Assert.Equal("/api/v1/auth/login/callback", url.AbsolutePath);
        var query = QueryHelpers.ParseQuery(url.Query);
        Assert.True(query.ContainsKey("code") && query.ContainsKey("state"), url.ToString());
        var callback = await AnswerAsync(c, "GET", url.PathAndQuery);
        Assert.True(callback.Status == OK, callback.Text);
        Assert.Equal(RouteSuiteFixture.IntegrationsUser, (string?)JsonNode.Parse(callback.Text)!["email"]);
        var cookie = callback.Headers.GetValues("Set-Cookie").Single(h => h.StartsWith("session_token=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        // The code is single use: replaying the callback is refused.
        ExpectError(await AnswerAsync(c, "GET", url.PathAndQuery), Forbidden, "state");
        return cookie["session_token=".Length..cookie.IndexOf(';')];
    }
}
