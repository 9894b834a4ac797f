namespace Baton.Pty;

/// <summary>
/// One PTY shared by many viewers. Every output byte is appended to the log file (so <see cref="BytesWritten"/>
/// equals the log's length and offsets are log offsets) and to a bounded ring that is replayed to viewers that
/// attach later. Delivery to viewers never blocks the PTY: a viewer whose buffer is full is cut off.
/// The runs service disposes the session (or calls <c>Process.TerminateAsync</c>) on cancel, pause and stop;
/// either kills the whole process group.
/// </summary>
public sealed class TerminalSession : IAsyncDisposable
{
    private static readonly byte[] ResizePrefix = "\u001b[RESIZE:"u8.ToArray();

    private readonly object _gate = new();
    private readonly string _logPath;
    private readonly FileStream _log;
    private readonly ByteRing _ring;
    private readonly List<TerminalViewer> _viewers = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _bytesWritten;
    private bool _outputEnded;
    private bool _logFailed;
    private PtyProcess? _process;

    private TerminalSession(string logPath, FileStream log, int ringCapacity)
    {
        _logPath = logPath;
        _log = log;
        _ring = new ByteRing(ringCapacity);
        _bytesWritten = log.Length;
    }

    public PtyProcess Process => _process ?? throw new InvalidOperationException("the session has not started");

    /// <summary>Viewers attached and not yet disposed or cut off (they stay counted after the output ends).</summary>
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

    /// <summary>Total output bytes so far, equal to the log file's length.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>The log file path given to <see cref="Start"/>.</summary>
    public string LogFilePath => _logPath;

    /// <summary>The process exited, its output is drained into the log, and every viewer's Live has completed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Raised (outside any lock) when the number of viewers drops to zero by detach or cut-off:
    /// ephemeral terminals use it to kill the session when their last viewer leaves.</summary>
    public event Action<TerminalSession>? LastViewerDetached;

    public static TerminalSession Start(PtySpawnOptions options, string logFilePath, int ringCapacityBytes = 100 * 1024) =>
        Start(options, logFilePath, ringCapacityBytes, appendToLog: false);

    /// <summary>With <paramref name="appendToLog"/> output is appended to an existing log (a continued run) and
    /// <see cref="BytesWritten"/> starts at its length.</summary>
    public static TerminalSession Start(PtySpawnOptions options, string logFilePath, int ringCapacityBytes, bool appendToLog)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(ringCapacityBytes, 1);
        var fullPath = Path.GetFullPath(logFilePath);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var log = new FileStream(fullPath, appendToLog ? FileMode.Append : FileMode.Create, FileAccess.Write,
            FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var session = new TerminalSession(fullPath, log, ringCapacityBytes);
        try
        {
            session._process = PtyProcess.Spawn(options, session.OnOutput);
        }
        catch
        {
            log.Dispose();
            throw;
        }

        _ = session.CompleteWhenDrainedAsync();
        return session;
    }

    /// <summary>Attaches a viewer: <see cref="TerminalViewer.Snapshot"/> is the ring (the most recent output),
    /// then <see cref="TerminalViewer.Live"/> carries every later chunk. <paramref name="bufferFrames"/> chunks
    /// may be pending before the viewer is cut off.</summary>
    public TerminalViewer Attach(int bufferFrames = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferFrames, 1);
        lock (_gate)
        {
            var snapshot = _ring.ToArray();
            var viewer = new TerminalViewer(this, snapshot, _bytesWritten - snapshot.Length, bufferFrames);
            AddViewer(viewer);
            return viewer;
        }
    }

    /// <summary>Attaches a viewer whose snapshot is the log from <paramref name="fromOffset"/> (a reconnecting
    /// client's cursor) up to the attach point; clamped to [0, BytesWritten]. Live continues without gap.</summary>
    public TerminalViewer AttachFrom(long fromOffset, int bufferFrames = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferFrames, 1);
        TerminalViewer viewer;
        long end;
        lock (_gate)
        {
            end = _bytesWritten;
            fromOffset = Math.Clamp(fromOffset, 0, end);
            viewer = new TerminalViewer(this, ReadOnlyMemory<byte>.Empty, fromOffset, bufferFrames);
            AddViewer(viewer);
        }

        // The log already holds every byte up to `end` (written before _bytesWritten moved).
        var snapshot = new byte[end - fromOffset];
        using (var stream = OpenLog(fromOffset))
        {
            stream.ReadExactly(snapshot);
        }

        viewer.Snapshot = snapshot;
        return viewer;
    }

    public ValueTask WriteInputAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default) => Process.WriteAsync(data, ct);

    public void Resize(ushort columns, ushort rows) => Process.Resize(columns, rows);

    /// <summary>True when <paramref name="input"/> is exactly <c>ESC [ RESIZE : cols : rows</c> (NOTES §5.5),
    /// with decimal cols and rows in 1..65535. Such a frame is a resize, not keyboard input.</summary>
    public static bool TryParseInBandResize(ReadOnlySpan<byte> input, out ushort cols, out ushort rows)
    {
        cols = 0;
        rows = 0;
        if (!input.StartsWith(ResizePrefix))
        {
            return false;
        }

        var rest = input[ResizePrefix.Length..];
        var separator = rest.IndexOf((byte)':');
        if (separator < 0
            || !TryParseDimension(rest[..separator], out var parsedCols)
            || !TryParseDimension(rest[(separator + 1)..], out var parsedRows))
        {
            return false;
        }

        cols = parsedCols;
        rows = parsedRows;
        return true;
    }

    /// <summary>The log from <paramref name="fromOffset"/> (0..BytesWritten) to its current end; the stream sees
    /// bytes appended while it is read.</summary>
    public Stream OpenLog(long fromOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fromOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fromOffset, BytesWritten);
        var stream = new FileStream(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 4096);
        stream.Seek(fromOffset, SeekOrigin.Begin);
        return stream;
    }

    /// <summary>Kills the process group (SIGTERM, SIGKILL after 2 s) and waits for <see cref="Completion"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync().ConfigureAwait(false);
        }

        await _completion.Task.ConfigureAwait(false);
    }

    internal void Detach(TerminalViewer viewer)
    {
        bool last;
        lock (_gate)
        {
            last = _viewers.Remove(viewer) && _viewers.Count == 0;
        }

        viewer.Complete();
        if (last)
        {
            LastViewerDetached?.Invoke(this);
        }
    }

    private void AddViewer(TerminalViewer viewer)
    {
        _viewers.Add(viewer);
        if (_outputEnded)
        {
            viewer.Complete();
        }
    }

    /// <summary>On the PTY reader thread: log, ring, then fan out without ever waiting on a viewer.</summary>
    private void OnOutput(ReadOnlyMemory<byte> chunk)
    {
        List<TerminalViewer>? cut = null;
        bool last;
        lock (_gate)
        {
            if (!_logFailed)
            {
                try
                {
                    _log.Write(chunk.Span);
                }
                catch (IOException)
                {
                    // Disk full or similar: keep serving viewers; the log (and offsets into it) stop here.
                    _logFailed = true;
                }
            }

            _ring.Append(chunk.Span);
            Interlocked.Add(ref _bytesWritten, chunk.Length);
            foreach (var viewer in _viewers)
            {
                if (!viewer.TryWrite(chunk))
                {
                    (cut ??= []).Add(viewer);
                }
            }

            if (cut is null)
            {
                return;
            }

            foreach (var viewer in cut)
            {
                _viewers.Remove(viewer);
            }

            last = _viewers.Count == 0;
        }

        foreach (var viewer in cut)
        {
            viewer.CutOff();
        }

        if (last)
        {
            LastViewerDetached?.Invoke(this);
        }
    }

    private async Task CompleteWhenDrainedAsync()
    {
        try
        {
            await Process.OutputCompleted.ConfigureAwait(false);
            await Process.Exited.ConfigureAwait(false);
        }
        finally
        {
            List<TerminalViewer> viewers;
            lock (_gate)
            {
                _outputEnded = true;
                viewers = [.. _viewers];
                _log.Flush(flushToDisk: false);
                _log.Dispose();
            }

            foreach (var viewer in viewers)
            {
                viewer.Complete();
            }

            _completion.TrySetResult();
        }
    }



    private static bool TryParseDimension(ReadOnlySpan<byte> digits, out ushort value)
    {
        value = 0;
        if (digits.IsEmpty || digits.Length > 5)
        {
            return false;
        }

        var number = 0;
        foreach (var digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            number = (number * 10) + (digit - '0');
        }

        if (number is < 1 or > ushort.MaxValue)
        {
            return false;
        }

        value = (ushort)number;
        return true;
    }
}
