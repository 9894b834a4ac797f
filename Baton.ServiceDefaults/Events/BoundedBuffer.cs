using System.Threading.Channels;

namespace Baton.ServiceDefaults.Events;

/// <summary>
/// A per-consumer queue bounded by item count <em>and</em> total size, so a consumer that stops
/// reading holds at most <c>maxBytes</c> however large its messages are (a count alone let four
/// non-reading viewers of 48 KB events hold hundreds of megabytes). Writers never wait: a write
/// that does not fit returns false, and the owner decides (cut the consumer off, or drop and
/// let it catch up from the durable log). One item larger than the budget is still accepted
/// into an empty buffer, so no single message is undeliverable.
/// </summary>
public sealed class BoundedBuffer<T>
{
    private readonly Channel<T> _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<T, long> _sizeOf;
    private readonly int _maxItems;
    private readonly long _maxBytes;
    private readonly Lock _gate = new();
    private int _count;
    private long _bytes;

    public BoundedBuffer(int maxItems, long maxBytes, Func<T, long> sizeOf)
    {
        _maxItems = maxItems;
        _maxBytes = maxBytes;
        _sizeOf = sizeOf;
        Reader = new BufferReader(this);
    }

    /// <summary>The consumer's side; reading an item releases its share of the budget.</summary>
    public ChannelReader<T> Reader { get; }

    public int Count => Volatile.Read(ref _count);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Queues <paramref name="item"/> if it fits the budget; false when the consumer is too far behind (or the buffer is complete).</summary>
    public bool TryWrite(T item)
    {
        var size = _sizeOf(item);
        lock (_gate)
        {
            if (_count > 0 && (_count >= _maxItems || _bytes + size > _maxBytes))
            {
                return false;
            }
            if (!_channel.Writer.TryWrite(item))
            {
                return false;
            }
            _count++;
            _bytes += size;
            return true;
        }
    }

    /// <summary>Ends the buffer; the reader drains what is queued, then sees <paramref name="error"/> (if any) from its completion.</summary>
    public bool TryComplete(Exception? error = null) => _channel.Writer.TryComplete(error);

    private void Release(T item)
    {
        var size = _sizeOf(item);
        lock (_gate)
        {
            _count--;
            _bytes -= size;
        }
    }

    private sealed class BufferReader(BoundedBuffer<T> owner) : ChannelReader<T>
    {
        private readonly ChannelReader<T> _inner = owner._channel.Reader;

        public override Task Completion => _inner.Completion;

        public override bool CanCount => true;

        public override int Count => owner.Count;

        public override bool TryRead(out T item)
        {
            if (_inner.TryRead(out item!))
            {
                owner.Release(item);
                return true;
            }
            return false;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _inner.WaitToReadAsync(cancellationToken);
    }
}
