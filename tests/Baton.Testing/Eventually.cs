namespace Baton.Testing;

/// <summary>Waits on a condition with a timeout: the tests' only way to synchronise with other processes.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met in time: {what ?? "(unnamed)"}; last value: {value}");
            }
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    public static Task WaitAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? what = null) =>
        WaitAsync(condition, ok => ok, timeout, what);

    public static Task WaitAsync(Func<bool> condition, TimeSpan? timeout = null, string? what = null) =>
        WaitAsync(() => Task.FromResult(condition()), ok => ok, timeout, what);

    /// <summary>Like <see cref="WaitAsync(Func{Task{bool}}, TimeSpan?, string?)"/>, with a description computed when it times out (the last state seen).</summary>
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        try
        {
            await WaitAsync(condition, timeout, "");
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(describe());
        }
    }

    public static Task WaitAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe) =>
        WaitAsync(() => Task.FromResult(condition()), timeout, describe);
}
