using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;
using Grpc.Core;

namespace Baton.Runs.Streams;

/// <summary>
/// File changes of registered repositories and run worktrees come from the git service, which
/// watches only while someone listens: while the watcher stream has demand, this keeps its
/// <c>WatchFileEvents</c> stream open and records each event as a <c>file-change</c>.
/// </summary>
public sealed class RepoFileEventsRelay(GestaltEventLog events, GitRestService.GitRestServiceClient git, StreamsOptions options, ILogger<RepoFileEventsRelay> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var changed = new SemaphoreSlim(0);
        events.WatcherDemand.Changed += () => changed.Release();
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!(options.AlwaysWatch || events.WatcherDemand.Active))
                {
                    await changed.WaitAsync(TimeSpan.FromSeconds(10), stoppingToken);
                    continue;
                }
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                void OnChanged()
                {
                    if (!(options.AlwaysWatch || events.WatcherDemand.Active))
                    {
                        idle.Cancel();
                    }
                }
                events.WatcherDemand.Changed += OnChanged;
                try
                {
                    using var call = git.WatchFileEvents(new WatchFileEventsRequest(), cancellationToken: idle.Token);
                    await foreach (var evt in call.ResponseStream.ReadAllAsync(idle.Token))
                    {
                        failures = 0;
                        if (options.WorkDir is { } workDir && IsUnder(workDir, evt.Path))
                        {
                            // The workdir watcher reports these already (BATON_WORKDIR may also be a registered repo).
                            continue;
                        }
                        var payload = new JsonObject
                        {
                            ["type"] = "file-change",
                            ["op"] = evt.Type,
                            ["path"] = evt.Path,
                            ["full_path"] = evt.Path,
                            ["timestamp"] = evt.Timestamp,
                        };
                        if (evt.OldPath.Length > 0)
                        {
                            payload["old_path"] = evt.OldPath;
                        }
                        if (evt.RepoId.Length > 0)
                        {
                            payload["repo_id"] = evt.RepoId;
                        }
                        if (evt.RunId.Length > 0)
                        {
                            payload["run_id"] = evt.RunId;
                        }
                        await events.PublishAsync(GestaltStream.Watcher, payload, stoppingToken);
                    }
                }
                finally
                {
                    events.WatcherDemand.Changed -= OnChanged;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException)
            {
                if (ex is RpcException { StatusCode: not StatusCode.Cancelled } && ++failures is 1 or 10)
                {
                    logger.LogWarning("File events from the git service stopped ({Reason}); retrying", ex.Message);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * Math.Max(1, failures))), stoppingToken);
            }
        }
    }

    private static bool IsUnder(string root, string path)
    {
        var relative = Path.GetRelativePath(root, path);
        return !relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }
}
