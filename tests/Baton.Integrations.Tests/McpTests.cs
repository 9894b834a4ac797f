using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Tests.Infrastructure;
using Baton.Testing;
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
                     "baton_start_run", "baton_get_run_events", "baton_get_run_changes", "baton_list_sessions", "baton_get_session_output", "baton_send_session_input" })
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
    public async Task SessionTools_ListTheSessions_TypeIntoOne_AndReadItsTerminal()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("mcpsessions"));
        using var http = fixture.Client(session);
        using var created = await http.PostAsJsonAsync("/api/sessions", new { agent = "cat" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        try
        {
            await using var client = await ConnectAsync(session);
            var listed = await client.CallToolAsync("baton_list_sessions", new Dictionary<string, object?>());
            Assert.NotEqual(true, listed.IsError);
            Assert.Contains(JsonNode.Parse(TextOf(listed))!["sessions"]!.AsArray(), s => s!["id"]!.GetValue<string>() == id);

            var marker = "typed-by-mcp-" + Guid.NewGuid().ToString("N")[..8];
            var typed = await client.CallToolAsync("baton_send_session_input", new Dictionary<string, object?> { ["session_id"] = id, ["text"] = marker });
            Assert.NotEqual(true, typed.IsError);
            Assert.Equal(marker.Length + 1, JsonNode.Parse(TextOf(typed))!["bytes"]!.GetValue<int>());
            // The terminal echoes the typed line, and cat, having received Enter, prints it again.
            var output = "";
            await Eventually.WaitAsync(async () =>
            {
                var read = await client.CallToolAsync("baton_get_session_output", new Dictionary<string, object?> { ["session_id"] = id });
                output = TextOf(read);
                return read.IsError != true
                    && JsonNode.Parse(output)!["lines"]!.AsArray().Count(l => l!.GetValue<string>().TrimEnd() == marker) >= 2;
            }, TimeSpan.FromSeconds(30), () => $"the line typed and cat's copy of it: {output}");

            var withoutEnter = await client.CallToolAsync("baton_send_session_input", new Dictionary<string, object?> { ["session_id"] = id, ["text"] = "x", ["enter"] = false });
            Assert.Equal(1, JsonNode.Parse(TextOf(withoutEnter))!["bytes"]!.GetValue<int>());

            var unknown = await client.CallToolAsync("baton_send_session_input", new Dictionary<string, object?> { ["session_id"] = "no-such-session", ["text"] = "x" });
            Assert.True(unknown.IsError);
            Assert.Contains("not found", TextOf(unknown));
            var noText = await client.CallToolAsync("baton_send_session_input", new Dictionary<string, object?> { ["session_id"] = id });
            Assert.True(noText.IsError);
            Assert.Contains("\"text\"", TextOf(noText));
            var badEnter = await client.CallToolAsync("baton_send_session_input", new Dictionary<string, object?> { ["session_id"] = id, ["text"] = "x", ["enter"] = "yes" });
            Assert.True(badEnter.IsError);
        }
        finally
        {
            (await http.DeleteAsync($"/api/sessions/{id}")).Dispose();
        }
    }

    private static string TextOf(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

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

    /// <summary>
    /// MCP's Streamable HTTP lets a server without a server-to-client stream answer GET with 405; Baton's
    /// MCP server is stateless (every POST carries its own credentials), so GET says so, and still only after auth.
    /// </summary>
    [Fact]
    public async Task GetMcp_Is405WithAllowPost_ForASignedInCaller_And401Otherwise()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("mcpget"));
        using var http = fixture.Client(session);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mcp");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("POST", response.Content.Headers.Allow);

        using var anonymous = fixture.Client();
        using var refused = await anonymous.GetAsync("/mcp");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }
}
