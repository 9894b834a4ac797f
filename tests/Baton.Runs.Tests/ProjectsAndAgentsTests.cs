using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;

namespace Baton.Runs.Tests;

public sealed class ProjectsAndAgentsTests
{
    [Fact]
    public async Task CreateProject_Returns201WithDocumentedShape_AndRegistersWithGit()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.PostJsonAsync("/api/projects", new { name = "My Project" }, HttpStatusCode.Created);

        Assert.Equal("My Project", (string?)project["name"]);
        Assert.True(Guid.TryParse((string?)project["id"], out _));
        Assert.Empty(project["repos"]!.AsArray());
        Assert.EndsWith("Z", (string?)project["created_at"]);
        Assert.True(host.Git.Service.IsRegistered((string)project["id"]!));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"name\":\"\"}")]
    [InlineData("{\"name\":\"   \"}")]
    public async Task CreateProject_WithoutName_Returns400(string body)
    {
        await using var host = await RunsHost.StartAsync();
        using var response = await host.Http.PostAsync("/api/projects", Text.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task GetAndListProjects_IncludeReposFromGit()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync("alpha");
        var id = (string)project["id"]!;

        var fetched = (await host.GetJsonAsync($"/api/projects/{id}")).AsObject();
        var repo = Assert.Single(fetched["repos"]!.AsArray())!;
        Assert.Equal("app", (string?)repo["name"]);
        Assert.NotNull((string?)repo["repo_path"]);
        Assert.NotNull((string?)repo["id"]);

        var list = (await host.GetJsonAsync("/api/projects")).AsArray();
        Assert.Single(list, p => (string?)p!["id"] == id && p["repos"]!.AsArray().Count == 1);

        using var missing = await host.Http.GetAsync($"/api/projects/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task CreateAgent_AppliesDocumentedDefaults()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.PostJsonAsync("/api/projects", new { name = "p" }, HttpStatusCode.Created);
        var agent = await host.PostJsonAsync("/api/agents", new { project_id = (string)project["id"]!, name = "Feature Builder" }, HttpStatusCode.Created);

        Assert.Equal("Feature Builder", (string?)agent["name"]);
        Assert.Equal("claude-code", (string?)agent["cli_name"]);
        Assert.Equal("Read,Edit,Write,Bash,Glob,Grep", (string?)agent["allowed_tools"]);
        Assert.Equal(100, (int)agent["max_turns"]!);
        Assert.Equal("{}", agent["provider_config"]!.ToJsonString());
        Assert.Equal("builder", (string?)agent["role"]);
        Assert.Equal((string?)project["id"], (string?)agent["project_id"]);
    }

    [Fact]
    public async Task CreateAgent_UnknownProject404_MissingFields400()
    {
        await using var host = await RunsHost.StartAsync();
        using var unknown = await host.Http.PostAsJsonAsync("/api/agents", new { project_id = Guid.NewGuid().ToString(), name = "x" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var noName = await host.Http.PostAsJsonAsync("/api/agents", new { project_id = Guid.NewGuid().ToString() });
        Assert.Equal(HttpStatusCode.BadRequest, noName.StatusCode);
        using var noProject = await host.Http.PostAsJsonAsync("/api/agents", new { name = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, noProject.StatusCode);
    }

    [Fact]
    public async Task UpdateAgent_IsPartial_AndListsAndDeleteWork()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.PostJsonAsync("/api/projects", new { name = "p" }, HttpStatusCode.Created);
        var projectId = (string)project["id"]!;
        var agent = await host.CreateAgentAsync(projectId, new { model = "claude-sonnet-4-6", instructions = "be brief", provider_config = new { env = new { ANTHROPIC_BASE_URL = "http://x" } } });
        var id = (string)agent["id"]!;

        using var put = await host.Http.PutAsJsonAsync($"/api/agents/{id}", new { name = "Renamed Agent", max_turns = 50 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var updated = JsonNode.Parse(await put.Content.ReadAsStringAsync())!;
        Assert.Equal("Renamed Agent", (string?)updated["name"]);
        Assert.Equal(50, (int)updated["max_turns"]!);
        Assert.Equal("claude-sonnet-4-6", (string?)updated["model"]);
        Assert.Equal("be brief", (string?)updated["instructions"]);
        // env values are credentials as far as Baton knows: kept, and shown masked (issue 13).
        Assert.Equal("********", (string?)updated["provider_config"]!["env"]!["ANTHROPIC_BASE_URL"]);

        var projectAgents = (await host.GetJsonAsync($"/api/projects/{projectId}/agents")).AsArray();
        Assert.Single(projectAgents);
        var all = (await host.GetJsonAsync("/api/agents")).AsArray();
        Assert.Contains(all, a => (string?)a!["id"] == id);

        using var delete = await host.Http.DeleteAsync($"/api/agents/{id}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await host.Http.GetAsync($"/api/agents/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task DeleteProject_Returns204_RemovesAgentsAndGitRegistration()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var projectId = (string)project["id"]!;
        var agent = await host.CreateAgentAsync(projectId);

        using var delete = await host.Http.DeleteAsync($"/api/projects/{projectId}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Empty(await delete.Content.ReadAsByteArrayAsync());
        using var agentGone = await host.Http.GetAsync($"/api/agents/{(string)agent["id"]!}");
        Assert.Equal(HttpStatusCode.NotFound, agentGone.StatusCode);
        Assert.False(host.Git.Service.IsRegistered(projectId));
    }
}
