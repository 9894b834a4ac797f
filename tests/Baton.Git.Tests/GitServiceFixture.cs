using System.Net.Http.Json;
using Baton.Contracts.Git.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Baton.Git.Tests;

/// <summary>The git service in-process (TestServer), with its data, repos and a fake GitHub under one temp folder.</summary>
public sealed class GitServiceFixture : IAsyncLifetime
{
    public const string Secret = "test-internal-secret";

    public string Root { get; } = TestEnvironment.NewDirectory("baton-git-tests");
    /// <summary>BATON_REPO_ROOTS: repos must live here.</summary>
    public string Repos => Path.Combine(Root, "repos");
    public string Outside => Path.Combine(Root, "outside");
    public string DataDir => Path.Combine(Root, "data");
    public string WorkDir => Path.Combine(Repos, "workdir-repo");
    public FakeGitHub GitHub { get; private set; } = null!;
    public GitFactory Factory { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public GitService.GitServiceClient Grpc { get; private set; } = null!;
    public GitRestService.GitRestServiceClient Rest { get; private set; } = null!;

    public static Metadata Internal { get; } = new() { { "x-baton-internal", Secret } };

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Repos);
        Directory.CreateDirectory(Outside);
        TestGit.CreateRepo(Repos, "workdir-repo");
        GitHub = await FakeGitHub.StartAsync();
        Factory = new GitFactory(new Dictionary<string, string?>
        {
            ["BATON_INTERNAL_SECRET"] = Secret,
            ["BATON_DATA_DIR"] = DataDir,
            ["BATON_WORKDIR"] = WorkDir,
            ["BATON_REPO_ROOTS"] = Repos,
            ["BATON_GITHUB_API_URL"] = GitHub.BaseUrl,
            ["BATON_GITHUB_TOKEN"] = FakeGitHub.Token,
        });
        Http = Factory.CreateInternalClient();
        var channel = GrpcChannel.ForAddress(Factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = Factory.Server.CreateHandler() });
        Grpc = new GitService.GitServiceClient(channel);
        Rest = new GitRestService.GitRestServiceClient(channel);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Factory.DisposeAsync();
        await GitHub.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A fresh temp folder under the allowed root for one test.</summary>
    public string NewFolder()
    {
        var dir = Path.Combine(Repos, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public async Task<string> NewProjectAsync()
    {
        var id = Guid.NewGuid().ToString();
        await Grpc.RegisterProjectAsync(new ProjectRef { ProjectId = id }, Internal);
        return id;
    }

    public async Task<Repo> AddRepoAsync(string projectId, string path, string? name = null)
    {
        var response = await Http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = name ?? Path.GetFileName(path), repo_path = path });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        return new Repo { Id = json!["id"]!.GetValue<string>(), Name = json["name"]!.GetValue<string>(), RepoPath = json["repo_path"]!.GetValue<string>() };
    }

    /// <summary>A project with one repo (with a bare origin) and a run workspace on it.</summary>
    public async Task<(string ProjectId, string RunId, string RepoPath, Workspace Workspace)> NewRunAsync(int repoCount = 1, bool withRemote = true)
    {
        var folder = NewFolder();
        var project = await NewProjectAsync();
        string first = "";
        for (var i = 0; i < repoCount; i++)
        {
            var path = TestGit.CreateRepo(folder, repoCount == 1 ? "app" : $"repo{i}", withRemote);
            first = i == 0 ? path : first;
            await AddRepoAsync(project, path);
        }
        var runId = Guid.NewGuid().ToString();
        var workspace = await Grpc.CreateWorkspaceAsync(new CreateWorkspaceRequest { RunId = runId, ProjectId = project }, Internal);
        return (project, runId, first, workspace);
    }
}

public sealed class GitFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public HttpClient CreateInternalClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("x-baton-internal", GitServiceFixture.Secret);
        return client;
    }
}

[CollectionDefinition(Name)]
public sealed class GitServiceCollection : ICollectionFixture<GitServiceFixture>
{
    public const string Name = "git service";
}
