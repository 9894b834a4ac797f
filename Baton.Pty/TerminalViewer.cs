using System.Threading.Channels;

namespace Baton.Pty;

/// <summary>
/// One attachment to a <see cref="TerminalSession"/>: the recent output (<see cref="Snapshot"/>) and then every
/// later chunk on <see cref="Live"/>, with no gap and no duplicate between the two. <see cref="Live"/> completes
/// normally when the session's output ends, and with a <see cref="TerminalViewerOverflowException"/> when this
/// viewer fell more than its buffer behind (it is cut off; the PTY and the other viewers never wait for it).
/// Dispose to detach.
/// </summary>
public sealed class TerminalViewer : IDisposable
{
    private readonly TerminalSession _session;
    private readonly Channel<ReadOnlyMemory<byte>> _live;
    private readonly int _capacity;

    internal TerminalViewer(TerminalSession session, ReadOnlyMemory<byte> snapshot, long snapshotOffset, int capacity)
    {
        _session = session;
        _capacity = capacity;
        Snapshot = snapshot;
        SnapshotOffset = snapshotOffset;
        _live = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Output produced before this viewer attached (the ring, or the log from a requested offset).</summary>
    public ReadOnlyMemory<byte> Snapshot { get; internal set; }

    /// <summary>Log offset of the first byte of <see cref="Snapshot"/>.</summary>
    public long SnapshotOffset { get; }

    /// <summary>Log offset of the first byte <see cref="Live"/> will deliver.</summary>
    public long LiveOffset => SnapshotOffset + Snapshot.Length;

    /// <summary>Chunks produced after attaching, in order. Each chunk is shared with other viewers: do not mutate.</summary>
    public ChannelReader<ReadOnlyMemory<byte>> Live => _live.Reader;

    public void Dispose() => _session.Detach(this);

    internal bool TryWrite(ReadOnlyMemory<byte> chunk) => _live.Writer.TryWrite(chunk);

    internal void CutOff() => _live.Writer.TryComplete(new TerminalViewerOverflowException(_capacity));

    internal void Complete() => _live.Writer.TryComplete();
}

/// <summary>The viewer did not keep up with the terminal and was detached.</summary>
public sealed class TerminalViewerOverflowException(int capacity)
    : Exception($"the terminal viewer fell more than {capacity} chunks behind and was cut off");
