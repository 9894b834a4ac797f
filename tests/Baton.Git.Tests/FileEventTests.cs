using Baton.Contracts.Git.V1;
using Grpc.Core;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class FileEventTests(GitServiceFixture fx)
{
    /// <summary>Every event of a watch, kept in arrival order: waiting for one never discards the others.</summary>
    private sealed class Recorder(BackgroundLoop pump, List<FileEvent> events)
    {
        public List<FileEvent> All
        {
            get
            {
                lock (events)
                {
                    return [.. events];
                }
            }
        }

        public async Task<FileEvent> NextAsync(Func<FileEvent, bool> match)
        {
            FileEvent? found = null;
            await pump.WatchAsync(Eventually.WaitAsync(() => (found = All.FirstOrDefault(match)) is not null, TimeSpan.FromSeconds(10), "a matching file event"));
            return found!;
        }
    }

    [Fact]
    public async Task WatchFileEvents_StreamsDebouncedChangesOfReposAndRunWorktrees_WithoutGitInternals()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        using var cts = new CancellationTokenSource();
        using var call = fx.Rest.WatchFileEvents(new WatchFileEventsRequest(), GitServiceFixture.Internal, cancellationToken: cts.Token);
        await call.ResponseHeadersAsync;
        var received = new List<FileEvent>();
        var pump = BackgroundLoop.Start(async ct =>
        {
            try
            {
                await foreach (var evt in call.ResponseStream.ReadAllAsync(ct))
                {
                    lock (received)
                    {
                        received.Add(evt);
                    }
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
            {
            }
        }, cts.Token);
        await using var _ = pump;
        var events = new Recorder(pump, received);

        var file = Path.Combine(repo, "watched.txt");
        File.WriteAllText(file, "one\n");
        File.AppendAllText(file, "two\n");
        var created = await events.NextAsync(e => e.Path == file);
        Assert.Equal("create", created.Type);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", created.Timestamp);

        var inRun = Path.Combine(workspace.Repos[0].WorktreePath, "agent.txt");
        File.WriteAllText(inRun, "agent\n");
        var runEvent = await events.NextAsync(e => e.Path == inRun);
        Assert.Equal(runId, runEvent.RunId);

        File.Move(file, file + ".moved");
        var renamed = await events.NextAsync(e => e.Type == "rename");
        Assert.Equal(file + ".moved", renamed.Path);
        Assert.Equal(file, renamed.OldPath);

        // A commit writes the index, objects, refs and logs under .git; a worktree's files under the repo's .git/worktrees.
        TestGit.Run(repo, "add", "-A");
        TestGit.Run(repo, "commit", "-q", "-m", "touch .git");
        TestGit.Commit(workspace.Repos[0].WorktreePath, "in-run.txt", "x\n", "commit in the worktree");
        File.Delete(inRun);
        await events.NextAsync(e => e.Path == inRun && e.Type == "delete");
        // Written after the delete was delivered, so every earlier event (the commits' too) has been emitted before it.
        var sentinel = Path.Combine(repo, "sentinel.txt");
        File.WriteAllText(sentinel, "last\n");
        await events.NextAsync(e => e.Path == sentinel);

        Assert.Contains(events.All, e => e.Path == Path.Combine(workspace.Repos[0].WorktreePath, "in-run.txt"));
        Assert.DoesNotContain(events.All, e => e.Path.Split('/').Contains(".git") || e.OldPath.Split('/').Contains(".git"));
        await cts.CancelAsync();
    }

    [Fact]
    public async Task WatchFileEvents_WithTypeFilter_SendsOnlyThoseTypes()
    {
        var repo = TestGit.CreateRepo(fx.NewFolder(), "filtered");
        var file = Path.Combine(repo, "gone.txt");
        await File.WriteAllTextAsync(file, "x");
        var project = await fx.NewProjectAsync();
        await fx.AddRepoAsync(project, repo);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var call = fx.Rest.WatchFileEvents(new WatchFileEventsRequest { Types_ = { "delete" } }, GitServiceFixture.Internal, cancellationToken: cts.Token);
        await call.ResponseHeadersAsync;

        await File.WriteAllTextAsync(Path.Combine(repo, "created.txt"), "a create event the filter drops");
        File.Delete(file);

        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal("delete", call.ResponseStream.Current.Type);
        Assert.Equal(file, call.ResponseStream.Current.Path);
        await cts.CancelAsync();
    }
}
