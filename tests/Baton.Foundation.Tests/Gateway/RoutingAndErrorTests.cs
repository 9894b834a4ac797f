using System.Text;
using Baton.Gateway;
using Baton.Gateway.Auth;
using Baton.Gateway.Errors;
using Baton.Gateway.Status;
using Microsoft.AspNetCore.Http;

namespace Baton.Foundation.Tests.Gateway;

public sealed class RoutingAndErrorTests
{
    [Theory]
    [InlineData("/api/v2/buildinfo", RouteFamily.Deployment)]
    [InlineData("/api/v1/tokens", RouteFamily.Integrations)]
    [InlineData("/mcp", RouteFamily.Integrations)]
    [InlineData("/api/chats/abc/context", RouteFamily.Chat)]
    [InlineData("/api/config/sandbox", RouteFamily.Chat)]
    [InlineData("/ws/3f2a", RouteFamily.Chat)]
    [InlineData("/ws/logs", RouteFamily.Gestalt)]
    [InlineData("/ws/session/Coder%201", RouteFamily.Gestalt)]
    [InlineData("/api/projects/1/repos", RouteFamily.Runs)]
    [InlineData("/api/runs/1/events", RouteFamily.Runs)]
    [InlineData("/api/agents", RouteFamily.Runs)]
    [InlineData("/api/agents/events", RouteFamily.Gestalt)]
    [InlineData("/api/status", RouteFamily.Gestalt)]
    [InlineData("/api/git/log", RouteFamily.Gestalt)]
    [InlineData("/api/flow/config", RouteFamily.Gestalt)]
    [InlineData("/health", RouteFamily.Plain)]
    public void Classify_PutsEachRouteInItsReferencesFamily(string path, RouteFamily expected) =>
        Assert.Equal(expected, RouteFamilies.Classify(new PathString(path)));

    [Fact]
    public void RouteTable_FamiliesAgreeWithTheGateways()
    {
        // The tests' route table (Baton.Testing.Routes) must classify every route as the gateway does.
        foreach (var route in Baton.Testing.Routes.RouteTable.All)
        {
            var path = System.Text.RegularExpressions.Regex.Replace(route.PathTemplate, "{[^}]+}", "x");
            Assert.True(route.Family.ToString() == RouteFamilies.Classify(new PathString(path)).ToString(), $"{route.Key}: {route.Family}");
        }
    }

    [Theory]
    [InlineData(RouteFamily.Gestalt, """{"message":"nope","error":"nope","code":"not_found"}""")]
    [InlineData(RouteFamily.Chat, """{"detail":"nope"}""")]
    [InlineData(RouteFamily.Integrations, """{"error":"nope"}""")]
    [InlineData(RouteFamily.Deployment, """{"message":"nope","detail":"","validations":[]}""")]
    public void Render_UsesTheFamilysShape(RouteFamily family, string json) =>
        Assert.Equal(json, ErrorResponses.Render(family, 404, "nope", null).ToJsonString());

    [Fact]
    public async Task Write_ForRunsRoutes_IsPlainText()
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/api/runs/x";
        context.Response.Body = new MemoryStream();
        await ErrorResponses.WriteAsync(context, 409, "run is still running");
        Assert.Equal(409, context.Response.StatusCode);
        Assert.StartsWith("text/plain", context.Response.ContentType);
        Assert.Equal("run is still running", Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
    }

    [Fact]
    public void TryReadGrpcStatus_ReadsTranscodedErrorsOnly()
    {
        Assert.True(ErrorResponses.TryReadGrpcStatus("""{"code":5,"message":"run not found","details":[]}"""u8, out var message));
        Assert.Equal("run not found", message);
        Assert.False(ErrorResponses.TryReadGrpcStatus("""{"error":"x"}"""u8, out _));
        Assert.False(ErrorResponses.TryReadGrpcStatus("not json"u8, out _));
    }

    [Theory]
    [InlineData("GET", "/health", true)]
    [InlineData("GET", "/api/v2/buildinfo", true)]
    [InlineData("GET", "/api/v2/", true)]
    [InlineData("GET", "/api/v2/experiments", false)]
    [InlineData("POST", "/api/v1/auth/login", true)]
    [InlineData("GET", "/api/v1/tokens", false)]
    [InlineData("POST", "/api/runs/abc/hook", true)]
    [InlineData("GET", "/api/runs/abc/hook", false)]
    [InlineData("GET", "/api/status", false)]
    public void IsOpen_MatchesTheReferences(string method, string path, bool open)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        Assert.Equal(open, RoutePolicy.IsOpen(context));
    }

    [Theory]
    [InlineData("/api/runs/0f8fad5b-d9cb-469f-a165-70867728950e/events", "/api/runs/{id}/events")]
    [InlineData("/api/sessions/42/output", "/api/sessions/{id}/output")]
    [InlineData("/api/status", "/api/status")]
    public void Normalise_ReplacesIds(string path, string route) => Assert.Equal(route, RequestMetrics.Normalise(path));

    [Theory]
    [InlineData("http://0.0.0.0:8080")]
    [InlineData("http://192.168.1.5:8080")]
    [InlineData("http://*:8080")]
    public void EnsureSafeToServe_WithoutToken_RefusesNonLoopback(string url)
    {
        var options = Options(token: null, url);
        var error = Assert.Throws<InvalidOperationException>(options.EnsureSafeToServe);
        Assert.Contains("BATON_TOKEN", error.Message);
    }

    [Fact]
    public void EnsureSafeToServe_AllowsLoopbackWithoutToken_AndAnythingWithToken()
    {
        Options(token: null, "http://127.0.0.1:8080").EnsureSafeToServe();
        Options(token: null, "http://localhost:8080").EnsureSafeToServe();
        Options(token: "t", "http://0.0.0.0:8080").EnsureSafeToServe();
    }

    private static GatewayOptions Options(string? token, string url) => new()
    {
        AdminToken = token,
        PublicUrl = url,
        GrpcUrl = url,
        WorkDir = "/",
        Experiments = [],
        Services = new Dictionary<string, ServiceAddresses>(),
        ListenUrls = [url],
    };
}
