using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class RepoRouteTests(GitServiceFixture fx)
{
    private async Task<(HttpStatusCode Status, string Body)> PostRepoAsync(string project, object body)
    {
        var response = await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", body);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AddRepo_WithValidRepo_Returns201WithIdNameAndPath()
    {
        var project = await fx.NewProjectAsync();
        var path = TestGit.CreateRepo(fx.NewFolder(), "backend");
        var response = await fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = "backend", repo_path = path });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.True(Guid.TryParse(json["id"]!.GetValue<string>(), out _));
        Assert.Equal("backend", json["name"]!.GetValue<string>());
        Assert.Equal(path, json["repo_path"]!.GetValue<string>());

        var listed = await fx.Grpc.ListReposAsync(new ProjectRef { ProjectId = project }, GitServiceFixture.Internal);
        Assert.Equal(path, Assert.Single(listed.Repos).RepoPath);
    }

    [Fact]
    public async Task AddRepo_WithRelativePath_Returns400()
    {
        var (status, body) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = "relative/repo" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("absolute", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRepo_WithMissingPath_Returns400()
    {
        var (status, body) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = Path.Combine(fx.Repos, "does-not-exist") });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("does not exist", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRepo_WithDirectoryThatIsNotARepo_Returns400()
    {
        var (status, body) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = fx.NewFolder() });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not a git repository", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRepo_WithDotDotTraversal_Returns400()
    {
        var path = TestGit.CreateRepo(fx.NewFolder(), "trav");
        var sneaky = Path.Combine(fx.Repos, "..", "repos", Path.GetFileName(Path.GetDirectoryName(path)!), "trav");
        var (status, body) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = sneaky });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("..", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData("..")]
    public async Task AddRepo_WithNameThatIsNotOnePathSegment_Returns400(string name)
    {
        var path = TestGit.CreateRepo(fx.NewFolder(), "named");
        var (status, _) = await PostRepoAsync(await fx.NewProjectAsync(), new { name, repo_path = path });
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task AddRepo_OutsideRepoRoots_Returns403()
    {
        var outside = TestGit.CreateRepo(fx.Outside, "out-" + Guid.NewGuid().ToString("N")[..6]);
        var (status, _) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = outside });
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task AddRepo_WithSymlinkInsideRootPointingOut_Returns403()
    {
        var outside = TestGit.CreateRepo(fx.Outside, "sym-" + Guid.NewGuid().ToString("N")[..6]);
        var link = Path.Combine(fx.NewFolder(), "link");
        Directory.CreateSymbolicLink(link, outside);
        var (status, _) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = link });
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task AddRepo_WithDotGitSymlinkedOut_Returns400()
    {
        var outside = TestGit.CreateRepo(fx.Outside, "dotgit-" + Guid.NewGuid().ToString("N")[..6]);
        var dir = fx.NewFolder();
        Directory.CreateSymbolicLink(Path.Combine(dir, ".git"), Path.Combine(outside, ".git"));
        var (status, body) = await PostRepoAsync(await fx.NewProjectAsync(), new { name = "x", repo_path = dir });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("symlink", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRepo_SamePathTwice_Returns409()
    {
        var project = await fx.NewProjectAsync();
        var path = TestGit.CreateRepo(fx.NewFolder(), "dup");
        await fx.AddRepoAsync(project, path, "one");
        var (status, _) = await PostRepoAsync(project, new { name = "two", repo_path = path });
        Assert.Equal(HttpStatusCode.Conflict, status);
    }

    [Fact]
    public async Task AddRepo_SamePathConcurrently_OneWins_OthersGet409()
    {
        var project = await fx.NewProjectAsync();
        var path = TestGit.CreateRepo(fx.NewFolder(), "race");
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            fx.Http.PostAsJsonAsync($"/api/projects/{project}/repos", new { name = $"race{i}", repo_path = path })));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(7, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task AddRepo_ToUnknownProject_Returns404()
    {
        var path = TestGit.CreateRepo(fx.NewFolder(), "orphan");
        var (status, _) = await PostRepoAsync(Guid.NewGuid().ToString(), new { name = "x", repo_path = path });
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task DeleteRepo_Returns204_And409WhileARunIsActiveOnIt()
    {
        var (project, runId, _, workspace) = await fx.NewRunAsync(withRemote: false);
        var repoId = workspace.Repos[0].RepoId;
        await fx.Grpc.SetRunActiveAsync(new SetRunActiveRequest { RunId = runId, Active = true }, GitServiceFixture.Internal);
        var busy = await fx.Http.DeleteAsync($"/api/projects/{project}/repos/{repoId}");
        Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);

        await fx.Grpc.SetRunActiveAsync(new SetRunActiveRequest { RunId = runId, Active = false }, GitServiceFixture.Internal);
        var deleted = await fx.Http.DeleteAsync($"/api/projects/{project}/repos/{repoId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Empty(await deleted.Content.ReadAsByteArrayAsync());
        var again = await fx.Http.DeleteAsync($"/api/projects/{project}/repos/{repoId}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Request_WithoutInternalSecret_Returns401()
    {
        using var client = fx.Factory.CreateClient();
        var response = await client.GetAsync("/api/git/log");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
