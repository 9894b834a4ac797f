using System.Threading.Channels;
using Baton.Contracts.Git.V1;
using Grpc.Core;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class FileEventTests(GitServiceFixture fx)
{
    private static async Task<FileEvent> NextAsync(ChannelReader<FileEvent> reader, Func<FileEvent, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await reader.WaitToReadAsync(timeout.Token))
        {
            while (reader.TryRead(out var evt))
            {
                if (match(evt))
                {
                    return evt;
                }
            }
        }
        throw new TimeoutException("no matching file event");
    }

    [Fact]
    public async Task WatchFileEvents_StreamsDebouncedChangesOfReposAndRunWorktrees_WithoutGitInternals()
    {
        var (_, runId, repo, workspace) = await fx.NewRunAsync(withRemote: false);
        using var cts = new CancellationTokenSource();
        using var call = fx.Rest.WatchFileEvents(new WatchFileEventsRequest(), GitServiceFixture.Internal, cancellationToken: cts.Token);
        await call.ResponseHeadersAsync;
        var events = Channel.CreateUnbounded<FileEvent>();
        var pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var evt in call.ResponseStream.ReadAllAsync(cts.Token))
                {
                    await events.Writer.WriteAsync(evt);
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
            {
            }
            catch (OperationCanceledException)
            {
            }
        });

        var file = Path.Combine(repo, "watched.txt");
        File.WriteAllText(file, "one\n");
        File.AppendAllText(file, "two\n");
        var created = await NextAsync(events.Reader, e => e.Path == file);
        Assert.Equal("create", created.Type);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", created.Timestamp);

        var inRun = Path.Combine(workspace.Repos[0].WorktreePath, "agent.txt");
        File.WriteAllText(inRun, "agent\n");
        var runEvent = await NextAsync(events.Reader, e => e.Path == inRun);
        Assert.Equal(runId, runEvent.RunId);

        File.Move(file, file + ".moved");
        var renamed = await NextAsync(events.Reader, e => e.Type == "rename");
        Assert.Equal(file + ".moved", renamed.Path);
        Assert.Equal(file, renamed.OldPath);

        TestGit.Run(repo, "add", "-A");
        TestGit.Run(repo, "commit", "-q", "-m", "touch .git");
        File.Delete(inRun);
        await NextAsync(events.Reader, e => e.Path == inRun && e.Type == "delete");

        await cts.CancelAsync();
        await pump;
        events.Writer.Complete();
        var rest = new List<FileEvent>();
        while (events.Reader.TryRead(out var e))
        {
            rest.Add(e);
        }
        Assert.DoesNotContain(rest, e => e.Path.Contains("/.git", StringComparison.Ordinal));
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
