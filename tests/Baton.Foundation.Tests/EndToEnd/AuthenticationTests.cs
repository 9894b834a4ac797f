using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Baton.Testing;

namespace Baton.Foundation.Tests.EndToEnd;

[Collection(SystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class AuthenticationTests(SystemFixture fixture)
{
    private BatonSystem Baton => fixture.System;

    [Theory]
    [InlineData("/health")]
    [InlineData("/ready")]
    [InlineData("/api/health")]
    [InlineData("/api/v2/")]
    [InlineData("/api/v2/buildinfo")]
    [InlineData("/api/v2/updatecheck")]
    public async Task OpenRoutes_NeedNoCredentials(string path)
    {
        using var client = Baton.CreateClient(authenticated: false);
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ProxiedServiceRoutes_AnswerThroughTheGateway_OpenAndAuthenticated()
    {
        using var anonymous = Baton.CreateClient(authenticated: false);
        var info = await Json.ReadAsync(await anonymous.GetAsync("/api/v1/auth/info"));
        Assert.Equal("none", info.GetProperty("provider").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/bindings")).StatusCode);

        using var client = Baton.CreateClient();
        Assert.Equal("[]", await client.GetStringAsync("/api/v1/bindings"));
        using var missing = await client.GetAsync("/api/v1/no-such-integration-route/x/y");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no route for GET", (await Json.ReadAsync(missing)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task MissingCredentials_Are401_InEachReferencesOwnShape()
    {
        using var client = Baton.CreateClient(authenticated: false);

        var deployment = await Json.ReadAsync(await Expect401(client, "/api/v2/experiments"));
        Assert.Contains("missing credentials", deployment.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.Array, deployment.GetProperty("validations").ValueKind);

        var gestalt = await Json.ReadAsync(await Expect401(client, "/api/status"));
        Assert.Equal("unauthorized", gestalt.GetProperty("code").GetString());
        Assert.Equal(gestalt.GetProperty("message").GetString(), gestalt.GetProperty("error").GetString());

        var integrations = await Json.ReadAsync(await Expect401(client, "/api/v1/tokens"));
        Assert.Contains("missing credentials", integrations.GetProperty("error").GetString());

        var chat = await Json.ReadAsync(await Expect401(client, "/api/chats"));
        Assert.Contains("missing credentials", chat.GetProperty("detail").GetString());

        var runs = await Expect401(client, "/api/projects");
        Assert.StartsWith("text/plain", runs.Content.Headers.ContentType!.ToString());
        Assert.StartsWith("missing credentials", await runs.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task EachCredentialKind_IsAccepted()
    {
        using var client = Baton.CreateClient(authenticated: false);

        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/v2/experiments");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Baton.Token);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(bearer)).StatusCode);

        using var coder = new HttpRequestMessage(HttpMethod.Get, "/api/v2/experiments");
        coder.Headers.Add("Coder-Session-Token", Baton.Token);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(coder)).StatusCode);

        using var cookie = new HttpRequestMessage(HttpMethod.Get, "/api/v2/experiments");
        cookie.Headers.Add("Cookie", $"session_token={Baton.Token}");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(cookie)).StatusCode);
    }

    [Fact]
    public async Task WrongToken_Is401_AndAWrongBearerIsNotRescuedByACookie()
    {
        using var client = Baton.CreateClient(authenticated: false);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/status");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
        wrong.Headers.Add("Cookie", $"session_token={Baton.Token}");
        using var response = await client.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid token", (await Json.ReadAsync(response)).GetProperty("message").GetString());
    }

    [Fact]
    public async Task TokenInQuery_IsRefusedOnRest_EvenWhenValid()
    {
        using var client = Baton.CreateClient(authenticated: false);
        var response = await Expect401(client, $"/api/status?token={Baton.Token}");
        Assert.Contains("only on WebSocket and SSE", (await Json.ReadAsync(response)).GetProperty("message").GetString());
    }

    [Fact]
    public async Task TokenInQuery_IsAcceptedOnSseAndWebSocket()
    {
        using var client = Baton.CreateClient(authenticated: false);
        using var sse = await client.GetAsync($"/api/logs/stream?token={Baton.Token}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        Assert.Equal("text/event-stream", sse.Content.Headers.ContentType!.MediaType);

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri($"/ws/logs?token={Baton.Token}"), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task WebSocket_WithoutToken_IsRefused_AndForeignOriginIsForbidden()
    {
        using var anonymous = new ClientWebSocket();
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => anonymous.ConnectAsync(WebSocketUri("/ws/logs"), CancellationToken.None));
        Assert.Contains("401", refused.Message);

        using var foreign = new ClientWebSocket();
        foreign.Options.SetRequestHeader("Origin", "http://evil.example");
        var forbidden = await Assert.ThrowsAsync<WebSocketException>(() => foreign.ConnectAsync(WebSocketUri($"/ws/logs?token={Baton.Token}"), CancellationToken.None));
        Assert.Contains("403", forbidden.Message);
    }

    [Fact]
    public async Task ServicePorts_AreNotAWayAroundTheGateway()
    {
        var (http, _) = Baton.Orchestrator.PortsOf("runs");
        using var direct = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{http}/api/projects");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Baton.Token);
        using var response = await direct.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        using var forged = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{http}/api/projects");
        forged.Headers.Add("x-baton-internal", "guess");
        Assert.Equal(HttpStatusCode.Unauthorized, (await direct.SendAsync(forged)).StatusCode);
    }

    private Uri WebSocketUri(string pathAndQuery) => new($"ws://{Baton.GatewayUrl.Authority}{pathAndQuery}");

    private static async Task<HttpResponseMessage> Expect401(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        return response;
    }
}
