namespace Baton.Testing;

/// <summary>
/// Work a test runs beside its main flow (keep writing a file, keep publishing, pump a stream). Its
/// failure surfaces where the test waits (<see cref="WatchAsync{T}"/>) or when it is disposed, never
/// lost behind a later, unrelated timeout.
/// </summary>
public sealed class BackgroundLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;

    private BackgroundLoop(Func<CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Completion = Task.Run(() => body(_stop.Token), CancellationToken.None);
    }

    public Task Completion { get; }

    /// <summary>Runs <paramref name="body"/> once (it may loop itself until its token is cancelled).</summary>
    public static BackgroundLoop Start(Func<CancellationToken, Task> body, CancellationToken cancellationToken = default) => new(body, cancellationToken);

    /// <summary>Runs <paramref name="step"/> every <paramref name="interval"/> until disposed.</summary>
    public static BackgroundLoop Repeat(Func<CancellationToken, Task> step, TimeSpan interval, CancellationToken cancellationToken = default) =>
        new(async token =>
        {
            while (!token.IsCancellationRequested)
            {
                await step(token);
                await Task.Delay(interval, token);
            }
        }, cancellationToken);

    /// <summary>Awaits <paramref name="task"/>; if the loop fails first, throws the loop's exception at once.</summary>
    public async Task<T> WatchAsync<T>(Task<T> task)
    {
        if (await Task.WhenAny(task, Completion) == Completion && Completion.IsFaulted)
        {
            await Completion;
        }
        return await task;
    }

    public async Task WatchAsync(Task task)
    {
        if (await Task.WhenAny(task, Completion) == Completion && Completion.IsFaulted)
        {
            await Completion;
        }
        await task;
    }

    /// <summary>Stops the loop and rethrows anything it failed with (cancellation is how it stops, not a failure).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Completion;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        finally
        {
            _stop.Dispose();
        }
    }
}
