using Baton.Contracts.Git.V1;
using Baton.Git.FileEvents;
using Baton.ServiceDefaults.Events;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class EventBusAndValidationTests(GitServiceFixture fx)
{
    [Fact]
    public async Task FileEvents_ArePublishedOnTheEventBus()
    {
        var repo = TestGit.CreateRepo(fx.NewFolder(), "bus");
        var project = await fx.NewProjectAsync();
        await fx.AddRepoAsync(project, repo);
        var bus = fx.Factory.Services.GetRequiredService<IEventBus>();
        await using var subscription = await bus.SubscribeAsync(FileEventHub.Topic);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var call = fx.Rest.WatchFileEvents(new WatchFileEventsRequest(), GitServiceFixture.Internal, cancellationToken: cts.Token);
        await call.ResponseHeadersAsync;

        var file = Path.Combine(repo, "bus.txt");
        await File.WriteAllTextAsync(file, "x", cts.Token);

        await foreach (var delivery in subscription.ReadAllAsync(cts.Token))
        {
            if (delivery.Message?.Path == file)
            {
                Assert.Equal("create", delivery.Message.Type);
                Assert.NotNull(delivery.Message.RepoId);
                break;
            }
        }
        await cts.CancelAsync();
    }

    [Fact]
    public async Task ValidateRepo_ChecksWithoutRegistering()
    {
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(fx.NewFolder(), "valid");
        var validated = await fx.Grpc.ValidateRepoAsync(new AddRepoRequest { ProjectId = project, RepoPath = repo }, GitServiceFixture.Internal);
        Assert.Equal(repo, validated.RepoPath);
        Assert.Equal("valid", validated.Name);
        Assert.Empty((await fx.Grpc.ListReposAsync(new ProjectRef { ProjectId = project }, GitServiceFixture.Internal)).Repos);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await fx.Grpc.ValidateRepoAsync(new AddRepoRequest { ProjectId = project, RepoPath = "not/absolute" }, GitServiceFixture.Internal));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task DeleteProject_RemovesItsRepos_AndRepoRoutesThenAnswer404()
    {
        var project = await fx.NewProjectAsync();
        await fx.AddRepoAsync(project, TestGit.CreateRepo(fx.NewFolder(), "gone"));
        await fx.Grpc.DeleteProjectAsync(new ProjectRef { ProjectId = project }, GitServiceFixture.Internal);
        Assert.Empty((await fx.Grpc.ListReposAsync(new ProjectRef { ProjectId = project }, GitServiceFixture.Internal)).Repos);
        var response = await fx.Http.GetAsync($"/api/projects/{project}/repos");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }
}
