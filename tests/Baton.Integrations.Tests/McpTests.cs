using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Tests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed class McpTests(IntegrationsFixture fixture)
{
    private async Task<McpClient> ConnectAsync(string bearer)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(fixture.Gateway, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {bearer}" },
        });
        return await McpClient.CreateAsync(transport);
    }

    [Fact]
    public async Task ToolsList_OffersEachOperationWithItsSchema_AndBatonsOwnTools()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("mcplist"));
        await using var client = await ConnectAsync(session);
        var tools = await client.ListToolsAsync();
        var names = tools.Select(t => t.Name).ToHashSet();
        foreach (var expected in new[] { "gh_get_user", "gh_create_issue", "apikeys_whoami", "petstore_brew", "baton_list_projects", "baton_list_runs",
                     "baton_start_run", "baton_get_run_events", "baton_get_run_changes" })
        {
            Assert.Contains(expected, names);
        }
        var createIssue = tools.Single(t => t.Name == "gh_create_issue");
        var schema = JsonNode.Parse(createIssue.JsonSchema.GetRawText())!;
        Assert.Equal(["owner", "repo", "title"], schema["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order());
        Assert.Equal("array", schema["properties"]!["labels"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task ToolsCall_RunsTheOperationWithTheCallersCredentials()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("mcpcall"));
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();
        await using var client = await ConnectAsync(session);

        var user = await client.CallToolAsync("gh_get_user", new Dictionary<string, object?> { ["per_page"] = 3 });
        Assert.NotEqual(true, user.IsError);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(user.Content)).Text;
        Assert.Equal("octocat", JsonNode.Parse(text)!["login"]!.GetValue<string>());
        Assert.Equal("3", JsonNode.Parse(text)!["per_page"]!.GetValue<string>());
        var seen = fixture.Upstream.Requests.Last(r => r.Path == "/user");
        Assert.Contains(seen.Authorization!["Bearer ".Length..], fixture.Auth.IssuedAccessTokens);

        var issue = await client.CallToolAsync("gh_create_issue", new Dictionary<string, object?> { ["owner"] = "acme", ["repo"] = "baton", ["title"] = "From MCP" });
        Assert.NotEqual(true, issue.IsError);

        var notConnected = await client.CallToolAsync("apikeys_whoami", new Dictionary<string, object?>());
        Assert.True(notConnected.IsError);
        Assert.Contains("no token stored for integration \"apikeys\"", Assert.IsType<TextContentBlock>(notConnected.Content[0]).Text);

        var projects = await client.CallToolAsync("baton_list_projects", new Dictionary<string, object?>());
        Assert.NotEqual(true, projects.IsError);
        Assert.NotNull(JsonNode.Parse(Assert.IsType<TextContentBlock>(projects.Content[0]).Text)!["projects"]);

        var missingRun = await client.CallToolAsync("baton_get_run_changes", new Dictionary<string, object?> { ["run_id"] = "does-not-exist" });
        Assert.True(missingRun.IsError);
    }

    [Fact]
    public async Task ScopedToken_SeesOnlyItsIntegrationsTools()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("mcpscope"));
        using var http = fixture.Client(session);
        using var create = await http.PostAsJsonAsync("/api/v1/tokens", new { name = "mcp", scopes = "apikeys" });
        var token = (await create.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        await using var client = await ConnectAsync(token);
        var names = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("apikeys_whoami", names);
        Assert.DoesNotContain("gh_get_user", names);
    }

    [Fact]
    public async Task Mcp_WithoutCredentials_Is401()
    {
        using var client = fixture.Client();
        using var response = await client.PostAsJsonAsync("/mcp", new { jsonrpc = "2.0", id = 1, method = "tools/list" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.NotNull((await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]);
    }
}
