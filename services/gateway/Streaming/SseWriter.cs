using System.Threading.Channels;

namespace Baton.Gateway.Streaming;

/// <summary>
/// Server-Sent Events as ARCHITECTURE fixes them: <c>retry:</c> first, <c>id:</c> on every event,
/// <c>: ping</c> comments while idle so proxies keep the stream open. Every write is flushed.
/// </summary>
public sealed class SseWriter
{
    private readonly HttpResponse _response;
    private readonly CancellationToken _aborted;

    private SseWriter(HttpResponse response, CancellationToken aborted)
    {
        _response = response;
        _aborted = aborted;
    }

    public static async Task<SseWriter> StartAsync(HttpContext context, int retryMilliseconds = 5000)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store, no-cache, must-revalidate";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        var writer = new SseWriter(response, context.RequestAborted);
        await writer.WriteRawAsync($"retry: {retryMilliseconds}\n\n");
        return writer;
    }

    public Task WriteEventAsync(string? id, string data, string? eventName = null)
    {
        var frame = new System.Text.StringBuilder();
        if (id is not null)
        {
            frame.Append("id: ").Append(id).Append('\n');
        }
        if (eventName is not null)
        {
            frame.Append("event: ").Append(eventName).Append('\n');
        }
        foreach (var line in data.Split('\n'))
        {
            frame.Append("data: ").Append(line).Append('\n');
        }
        frame.Append('\n');
        return WriteRawAsync(frame.ToString());
    }

    public Task WriteCommentAsync(string comment) => WriteRawAsync($": {comment}\n\n");

    private async Task WriteRawAsync(string text)
    {
        await _response.WriteAsync(text, _aborted);
        await _response.Body.FlushAsync(_aborted);
    }
}

public static class KeepAlive
{
    /// <summary>
    /// Writes everything <paramref name="reader"/> yields until it completes (rethrowing the reason
    /// it was completed with), calling <paramref name="ping"/> whenever it is idle for <paramref name="interval"/>.
    /// </summary>
    public static async Task PumpAsync<T>(ChannelReader<T> reader, Func<T, Task> write, Func<Task> ping, TimeSpan interval, CancellationToken cancellationToken)
    {
        Task<bool>? wait = null;
        while (true)
        {
            wait ??= reader.WaitToReadAsync(cancellationToken).AsTask();
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var delay = Task.Delay(interval, idle.Token);
                if (await Task.WhenAny(wait, delay) != wait)
                {
                    await ping();
                    continue;
                }
                await idle.CancelAsync();
            }
            var more = await wait;
            wait = null;
            if (!more)
            {
                await reader.Completion;
                return;
            }
            while (reader.TryRead(out var item))
            {
                await write(item);
            }
        }
    }
}
