using System.Text.Json;
using Baton.ServiceDefaults.Events;

namespace Baton.Gateway.Streaming;

/// <summary>
/// Relays a stream of events to one SSE client (ARCHITECTURE, Events): <c>id:</c> on every frame,
/// <c>: ping</c> while idle, and a per-client buffer bounded in items and bytes. A client that falls
/// that far behind is cut off: the upstream call is cancelled at once (so the owning service stops
/// sending too), the client gets an <c>event: error</c> carrying the id to resume from, and if it is not
/// reading at all its connection is aborted after a grace period instead of being held open.
/// </summary>
public sealed class SseRelay<T>(Func<T, long> sizeOf, Func<T, string> idOf, Func<T, string> serialize)
{
    public const int MaxItems = 1024;
    /// <summary>What one SSE client may hold in the gateway, whatever the size of its events.</summary>
    public const long MaxBytes = 1024 * 1024;
    private static readonly TimeSpan StalledGrace = TimeSpan.FromSeconds(10);

    /// <summary>Writes <paramref name="source"/> to <paramref name="sse"/> until it ends, the client leaves, or the client is cut off.</summary>
    /// <param name="cancelUpstream">Stops the upstream call when the client is cut off.</param>
    /// <param name="onUpstreamError">Turns an upstream failure into the client's error frame; null rethrows.</param>
    public async Task RelayAsync(HttpContext context, SseWriter sse, IAsyncEnumerable<T> source, Action cancelUpstream, TimeSpan keepAlive,
        Func<Exception, (string Message, int Status)?>? onUpstreamError = null)
    {
        var buffer = new BoundedBuffer<T>(MaxItems, MaxBytes, sizeOf);
        var cutOff = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var item in source.WithCancellation(done.Token))
                {
                    if (!buffer.TryWrite(item))
                    {
                        buffer.TryComplete(new SlowConsumerCutOff());
                        cancelUpstream();
                        cutOff.TrySetResult();
                        return;
                    }
                }
                buffer.TryComplete();
            }
            catch (Exception ex)
            {
                buffer.TryComplete(ex);
            }
        });
        // A client that reads nothing leaves the writer blocked in a flush; it is dropped after a grace period.
        var watchdog = Task.Run(async () =>
        {
            await cutOff.Task.WaitAsync(done.Token);
            await Task.Delay(StalledGrace, done.Token);
            context.Abort();
        });

        string? lastId = null;
        try
        {
            await KeepAlive.PumpAsync(buffer.Reader,
                async item =>
                {
                    var id = idOf(item);
                    await sse.WriteEventAsync(id, serialize(item));
                    lastId = id;
                },
                () => sse.WriteCommentAsync("ping"), keepAlive, context.RequestAborted);
        }
        catch (SlowConsumerCutOff)
        {
            await sse.WriteEventAsync(lastId, JsonSerializer.Serialize(new
            {
                type = "error",
                message = "slow consumer: this client fell too far behind and was cut off; reconnect with Last-Event-ID to resume",
                status = StatusCodes.Status503ServiceUnavailable,
                last_event_id = lastId,
            }), "error");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && onUpstreamError?.Invoke(ex) is { } failure)
        {
            await sse.WriteEventAsync(lastId, JsonSerializer.Serialize(new { type = "error", message = failure.Message, status = failure.Status, last_event_id = lastId }), "error");
        }
        finally
        {
            await done.CancelAsync();
            await Task.WhenAll(reading, watchdog).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private sealed class SlowConsumerCutOff : Exception;
}
