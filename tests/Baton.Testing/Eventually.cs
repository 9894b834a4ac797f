namespace Baton.Testing;

/// <summary>Waits on a condition with a timeout: the tests' only way to synchronise with other processes.</summary>
public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
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
}
