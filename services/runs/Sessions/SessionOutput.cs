using System.Threading.Channels;
using Baton.Pty;

namespace Baton.Runs.Sessions;

/// <summary>
/// A session's output, whatever runner produces it: every byte goes to the session log (<c>output.log</c>, rotated
/// to <c>output.log.1</c> past <see cref="MaxLogBytes"/>) and to a bounded ring, then to each viewer's bounded
/// queue. Offsets are absolute byte offsets since the session started (the <c>?cursor=</c> of <c>/ws/session</c>);
/// rotation drops the oldest bytes, so the earliest retained offset is <see cref="Start"/>. A viewer that falls
/// behind is cut off; the producer never waits.
/// </summary>
public sealed class SessionOutput : IDisposable
{
    public const string LogName = "output.log";

    private readonly object _gate = new();
    private readonly string _directory;
    private readonly ByteRing _ring;
    private readonly List<SessionViewer> _viewers = [];
    private FileStream? _log;
    private long _currentBase;
    private long _previousBase = -1;
    private long _end;
    private bool _completed;
    private bool _logFailed;

    public SessionOutput(string directory, long maxLogBytes, int ringBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLogBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(ringBytes, 1);
        _directory = directory;
        MaxLogBytes = maxLogBytes;
        _ring = new ByteRing(ringBytes);
        Directory.CreateDirectory(directory);
        File.Delete(PreviousPath);
        _log = OpenCurrent(FileMode.Create);
    }

    public long MaxLogBytes { get; }

    /// <summary>Offset one past the last byte produced.</summary>
    public long End
    {
        get
        {
            lock (_gate)
            {
                return _end;
            }
        }
    }

    /// <summary>The earliest offset still in the log files.</summary>
    public long Start
    {
        get
        {
            lock (_gate)
            {
                return _previousBase >= 0 ? _previousBase : _currentBase;
            }
        }
    }

    public int ViewerCount
    {
        get
        {
            lock (_gate)
            {
                return _viewers.Count;
            }
        }
    }

    /// <summary>Fires (outside the lock) for each chunk after it is logged; used to wait for a string in the output.</summary>
    public event Action<ReadOnlyMemory<byte>>? Appended;

    private string CurrentPath => Path.Combine(_directory, LogName);

    private string PreviousPath => Path.Combine(_directory, LogName + ".1");

    /// <summary>Called by the runner's reader thread, one chunk at a time, in order.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }
        var chunk = data.ToArray();
        List<SessionViewer>? cut = null;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }
            WriteLog(chunk);
            _ring.Append(chunk);
            _end += chunk.Length;
            foreach (var viewer in _viewers)
            {
                if (!viewer.TryWrite(chunk))
                {
                    (cut ??= []).Add(viewer);
                }
            }
            if (cut is not null)
            {
                foreach (var viewer in cut)
                {
                    _viewers.Remove(viewer);
                }
            }
        }
        if (cut is not null)
        {
            foreach (var viewer in cut)
            {
                viewer.CutOff();
            }
        }
        Appended?.Invoke(chunk);
    }

    /// <summary>
    /// A viewer whose <see cref="SessionViewer.Snapshot"/> is the log from <paramref name="cursor"/> (clamped to
    /// [<see cref="Start"/>, <see cref="End"/>]) or, without one, the ring; then every later chunk on Live,
    /// with no gap and no duplicate.
    /// </summary>
    public SessionViewer Attach(long? cursor, int bufferFrames = 4096)
    {
        SessionViewer viewer;
        List<(FileStream File, long Skip, long Count)> segments = [];
        lock (_gate)
        {
            if (cursor is null)
            {
                var ring = _ring.ToArray();
                viewer = new SessionViewer(this, ring, _end - ring.Length, bufferFrames);
            }
            else
            {
                var start = _previousBase >= 0 ? _previousBase : _currentBase;
                // Without a log (disk full) there is nothing to replay: live output only, at its true offset.
                var from = _logFailed ? _end : Math.Clamp(cursor.Value, start, _end);
                viewer = new SessionViewer(this, ReadOnlyMemory<byte>.Empty, from, bufferFrames);
                segments = OpenSegments(from, _end);
            }
            _viewers.Add(viewer);
            if (_completed)
            {
                viewer.Complete();
            }
        }
        if (segments.Count > 0)
        {
            viewer.Snapshot = ReadSegments(segments);
        }
        return viewer;
    }

    /// <summary>The bytes in [<paramref name="from"/>, <paramref name="to"/>) that are still retained.</summary>
    public byte[] Read(long from, long to)
    {
        List<(FileStream File, long Skip, long Count)> segments;
        lock (_gate)
        {
            var start = _previousBase >= 0 ? _previousBase : _currentBase;
            from = Math.Clamp(from, start, _end);
            to = Math.Clamp(to, from, _end);
            segments = OpenSegments(from, to);
        }
        return ReadSegments(segments);
    }

    /// <summary>The most recent output (the ring), for <c>/output</c> and the bell's context.</summary>
    public byte[] Recent()
    {
        lock (_gate)
        {
            return _ring.ToArray();
        }
    }

    /// <summary>The producer is done: viewers finish their queues and end.</summary>
    public void Complete()
    {
        List<SessionViewer> viewers;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }
            _completed = true;
            viewers = [.. _viewers];
            _log?.Dispose();
            _log = null;
        }
        foreach (var viewer in viewers)
        {
            viewer.Complete();
        }
    }

    public void Dispose() => Complete();

    internal void Detach(SessionViewer viewer)
    {
        lock (_gate)
        {
            _viewers.Remove(viewer);
        }
        viewer.Complete();
    }

    private FileStream OpenCurrent(FileMode mode) =>
        new(CurrentPath, mode, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);

    private void WriteLog(byte[] chunk)
    {
        if (_logFailed || _log is null)
        {
            return;
        }
        try
        {
            if (_end - _currentBase + chunk.Length > MaxLogBytes && _end > _currentBase)
            {
                _log.Dispose();
                File.Move(CurrentPath, PreviousPath, overwrite: true);
                _previousBase = _currentBase;
                _currentBase = _end;
                _log = OpenCurrent(FileMode.Create);
            }
            _log.Write(chunk);
        }
        catch (IOException)
        {
            // Disk full or similar: viewers keep getting output; the log (and replay from it) stops here.
            _logFailed = true;
        }
    }

    private List<(FileStream File, long Skip, long Count)> OpenSegments(long from, long to)
    {
        var segments = new List<(FileStream, long, long)>();
        if (to <= from || _logFailed)
        {
            return segments;
        }
        if (_previousBase >= 0 && from < _currentBase)
        {
            segments.Add((OpenRead(PreviousPath), from - _previousBase, Math.Min(to, _currentBase) - from));
        }
        if (to > _currentBase)
        {
            var start = Math.Max(from, _currentBase);
            segments.Add((OpenRead(CurrentPath), start - _currentBase, to - start));
        }
        return segments;
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);

    private static byte[] ReadSegments(List<(FileStream File, long Skip, long Count)> segments)
    {
        var total = segments.Sum(s => s.Count);
        var buffer = new byte[total];
        var offset = 0;
        foreach (var (file, skip, count) in segments)
        {
            using (file)
            {
                file.Seek(skip, SeekOrigin.Begin);
                file.ReadExactly(buffer, offset, (int)count);
            }
            offset += (int)count;
        }
        return buffer;
    }


}

/// <summary>One attachment to a <see cref="SessionOutput"/>: <see cref="Snapshot"/> from <see cref="SnapshotOffset"/>, then <see cref="Live"/>.</summary>
public sealed class SessionViewer : IDisposable
{
    private readonly SessionOutput _output;
    private readonly Channel<ReadOnlyMemory<byte>> _live;
    private readonly int _capacity;

    internal SessionViewer(SessionOutput output, ReadOnlyMemory<byte> snapshot, long snapshotOffset, int capacity)
    {
        _output = output;
        _capacity = capacity;
        Snapshot = snapshot;
        SnapshotOffset = snapshotOffset;
        _live = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public ReadOnlyMemory<byte> Snapshot { get; internal set; }

    public long SnapshotOffset { get; }

    public ChannelReader<ReadOnlyMemory<byte>> Live => _live.Reader;

    public void Dispose() => _output.Detach(this);

    internal bool TryWrite(ReadOnlyMemory<byte> chunk) => _live.Writer.TryWrite(chunk);

    internal void CutOff() => _live.Writer.TryComplete(new SessionViewerOverflowException(_capacity));

    internal void Complete() => _live.Writer.TryComplete();
}

public sealed class SessionViewerOverflowException(int capacity)
    : Exception($"the viewer fell more than {capacity} chunks behind and was cut off; reconnect with ?cursor= to resume");
