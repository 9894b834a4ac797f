namespace Baton.Pty;

/// <summary>
/// The last <see cref="Capacity"/> bytes written to it: a terminal's recent output, which a viewer that
/// attaches gets before the live bytes. Not thread-safe; its owner writes and copies under its own lock.
/// </summary>
public sealed class ByteRing(int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _start;

    public int Capacity => _buffer.Length;

    /// <summary>How many bytes it holds (at most <see cref="Capacity"/>).</summary>
    public int Length { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        var capacity = _buffer.Length;
        if (data.Length >= capacity)
        {
            data[^capacity..].CopyTo(_buffer);
            _start = 0;
            Length = capacity;
            return;
        }

        var end = (_start + Length) % capacity;
        var first = Math.Min(data.Length, capacity - end);
        data[..first].CopyTo(_buffer.AsSpan(end));
        data[first..].CopyTo(_buffer);
        var overflow = Length + data.Length - capacity;
        if (overflow > 0)
        {
            _start = (_start + overflow) % capacity;
            Length = capacity;
        }
        else
        {
            Length += data.Length;
        }
    }

    /// <summary>What it holds, oldest byte first.</summary>
    public byte[] ToArray()
    {
        var copy = new byte[Length];
        var first = Math.Min(Length, _buffer.Length - _start);
        _buffer.AsSpan(_start, first).CopyTo(copy);
        _buffer.AsSpan(0, Length - first).CopyTo(copy.AsSpan(first));
        return copy;
    }
}
