namespace Baton.Runs.Streams;

/// <summary>
/// Coalesces bursts per key: <paramref name="fire"/> runs once a key has been quiet for the
/// debounce time, with the first and the last signal of the burst. Precise per key (no polling tick).
/// </summary>
public sealed class Debouncer<T>(TimeSpan quiet, Action<string, T, T> fire) : IDisposable
{
    private readonly Dictionary<string, Entry> _pending = new(StringComparer.Ordinal);

    public void Signal(string key, T value)
    {
        lock (_pending)
        {
            if (_pending.TryGetValue(key, out var entry))
            {
                entry.Last = value;
                entry.Timer.Change(quiet, Timeout.InfiniteTimeSpan);
                return;
            }
            var created = new Entry(value);
            created.Timer = new Timer(_ => Fire(key), null, quiet, Timeout.InfiniteTimeSpan);
            _pending[key] = created;
        }
    }

    private void Fire(string key)
    {
        Entry? entry;
        lock (_pending)
        {
            if (!_pending.Remove(key, out entry))
            {
                return;
            }
        }
        entry.Timer.Dispose();
        fire(key, entry.First, entry.Last);
    }

    public void Dispose()
    {
        lock (_pending)
        {
            foreach (var entry in _pending.Values)
            {
                entry.Timer.Dispose();
            }
            _pending.Clear();
        }
    }

    private sealed class Entry(T first)
    {
        public T First { get; } = first;
        public T Last { get; set; } = first;
        public Timer Timer { get; set; } = null!;
    }
}
