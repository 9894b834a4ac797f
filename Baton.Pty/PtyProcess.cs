using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Baton.Pty.Native;
using Microsoft.Win32.SafeHandles;

namespace Baton.Pty;

/// <summary>
/// A process started with posix_spawn as the leader of a new session whose controlling terminal is a fresh
/// pseudo-terminal (PLATFORM-NOTES §5). Output is read on a dedicated thread; the child is reaped with
/// waitpid(pid) on another dedicated thread. The process group (pgid == <see cref="Pid"/>) never outlives this
/// object: when the leader exits, what is left of its group is SIGKILLed; <see cref="TerminateAsync"/> and
/// <see cref="DisposeAsync"/> SIGTERM then SIGKILL the group; when this .NET process exits, every live group
/// is SIGKILLed. The runs service calls <see cref="TerminateAsync"/> (or disposes) on cancel, pause and stop.
/// Limit: a descendant that leaves the group itself (setsid/setpgid, e.g. a daemonising tool) escapes the
/// group kill; containing those needs cgroups.
/// </summary>
public sealed class PtyProcess : IAsyncDisposable
{
    private const int ReadBufferBytes = 64 * 1024;
    private const int PollTimeoutMs = 200;
    private static readonly TimeSpan DrainAfterExit = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DisposeGrace = TimeSpan.FromSeconds(2);
    private static readonly ConcurrentDictionary<int, PtyProcess> Live = new();

    private readonly SafeFileHandle _master;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputCompleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly object _signalGate = new();
    private volatile bool _stopReading;
    private bool _reaped;
    private int _disposed;

    static PtyProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Live.Values)
            {
                try
                {
                    process.SignalGroup(LibC.SigKill);
                }
                catch (IOException)
                {
                }
            }
        };
    }

    private PtyProcess(SafeFileHandle master, int pid, string ptsName)
    {
        _master = master;
        Pid = pid;
        TerminalName = ptsName;
    }

    /// <summary>The child's pid; also its session id and process group id.</summary>
    public int Pid { get; }

    /// <summary>The slave side's path, e.g. /dev/pts/3.</summary>
    public string TerminalName { get; }

    /// <summary>Raised on the dedicated reader thread with a fresh array per chunk (safe to keep).
    /// Subscribe through <see cref="Spawn(PtySpawnOptions, Action{ReadOnlyMemory{byte}}?)"/> to miss nothing.</summary>
    public event Action<ReadOnlyMemory<byte>>? OutputReceived;

    /// <summary>Exit code, or 128+signal when killed by a signal; -1 if someone else reaped the child.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Completes when the terminal reports end of output (EIO: every slave fd is closed), or 2 s after
    /// the leader exited if an escaped process still holds the terminal, or on dispose.</summary>
    public Task OutputCompleted => _outputCompleted.Task;

    public static PtyProcess Spawn(PtySpawnOptions options) => Spawn(options, null);

    /// <summary>Spawns and subscribes <paramref name="onOutput"/> before the reader starts, so no byte is missed.</summary>
    public static PtyProcess Spawn(PtySpawnOptions options, Action<ReadOnlyMemory<byte>>? onOutput)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.FileName))
        {
            throw new PtySpawnException("no executable was given");
        }

        if (options.Columns == 0 || options.Rows == 0)
        {
            throw new PtySpawnException($"terminal size {options.Columns}x{options.Rows} is invalid: columns and rows must be at least 1");
        }

        if (string.IsNullOrEmpty(options.WorkingDirectory) || !Directory.Exists(options.WorkingDirectory))
        {
            throw new PtySpawnException($"working directory '{options.WorkingDirectory}' does not exist", LibC.ENoEnt);
        }

        var workingDirectory = Path.GetFullPath(options.WorkingDirectory);
        var environment = BuildEnvironment(options);
        environment.TryGetValue("PATH", out var searchPath);
        var executable = ResolveExecutable(options.FileName, workingDirectory, searchPath);

        var (master, ptsName) = OpenMaster(options.Columns, options.Rows);
        try
        {
            var pid = SpawnOnSlave(executable, options, workingDirectory, environment, ptsName);
            var process = new PtyProcess(master, pid, ptsName);
            if (onOutput is not null)
            {
                process.OutputReceived += onOutput;
            }

            process.Start();
            return process;
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>Writes input to the terminal (the child reads it from stdin). Waits while the terminal's
    /// input queue is full; throws IOException once the terminal is gone.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (!data.IsEmpty)
            {
                ct.ThrowIfCancellationRequested();
                var written = WriteSome(data.Span);
                if (written > 0)
                {
                    data = data[written..];
                    continue;
                }

                await Task.Run(WaitWritable, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sets the terminal size (TIOCSWINSZ); the kernel sends SIGWINCH to the foreground group.</summary>
    public unsafe void Resize(ushort columns, ushort rows)
    {
        if (columns == 0 || rows == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), "columns and rows must be at least 1");
        }

        var size = new LibC.WinSize { Col = columns, Row = rows };
        var fd = AcquireMaster();
        try
        {
            if (LibC.Ioctl(fd, LibC.TiocSWinSz, &size) != 0)
            {
                throw new IOException($"TIOCSWINSZ failed: {LibC.StrError(LibC.LastErrno)}");
            }
        }
        finally
        {
            _master.DangerousRelease();
        }
    }

    /// <summary>The terminal's current size as the kernel has it (TIOCGWINSZ).</summary>
    public unsafe (ushort Columns, ushort Rows) GetSize()
    {
        var size = default(LibC.WinSize);
        var fd = AcquireMaster();
        try
        {
            if (LibC.Ioctl(fd, LibC.TiocGWinSz, &size) != 0)
            {
                throw new IOException($"TIOCGWINSZ failed: {LibC.StrError(LibC.LastErrno)}");
            }
        }
        finally
        {
            _master.DangerousRelease();
        }
        return (size.Col, size.Row);
    }

    /// <summary>kill(-pgid, signal): the signal goes to every process of the child's group. No-op once the leader
    /// has been reaped (the group was SIGKILLed then, and the number may be reused).</summary>
    public void SignalGroup(int signal) => SendSignal(-Pid, signal);

    /// <summary>kill(pid, signal) to the leader only. No-op once it has been reaped.</summary>
    public void Signal(int signal) => SendSignal(Pid, signal);

    /// <summary>SIGTERM (+SIGCONT) to the whole group, SIGKILL to the group after <paramref name="grace"/>
    /// (or at once when <paramref name="ct"/> fires), and returns once the leader is reaped. Never throws on
    /// cancellation: the group is killed either way.</summary>
    public async Task TerminateAsync(TimeSpan grace, CancellationToken ct = default)
    {
        if (!_exited.Task.IsCompleted)
        {
            SignalGroup(LibC.SigTerm);
            SignalGroup(LibC.SigCont);
            try
            {
                await _exited.Task.WaitAsync(grace, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
            }
        }

        SignalGroup(LibC.SigKill); // no-op once the leader is reaped: the reaper SIGKILLed the group then
        await _exited.Task.ConfigureAwait(false);
    }

    /// <summary>Terminates the group (2 s grace), waits briefly for output to drain and closes the terminal.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await TerminateAsync(DisposeGrace).ConfigureAwait(false);
        await Task.WhenAny(_outputCompleted.Task, Task.Delay(DrainAfterExit)).ConfigureAwait(false);
        _stopReading = true;
        await _outputCompleted.Task.ConfigureAwait(false);
        _master.Dispose();
        _writeLock.Dispose();
    }

    private void SendSignal(int target, int signal)
    {
        lock (_signalGate)
        {
            if (_reaped)
            {
                return; // the group was SIGKILLed when the leader exited; the number may belong to someone else now
            }

            if (LibC.Kill(target, signal) != 0)
            {
                var errno = LibC.LastErrno;
                if (errno != LibC.ESrch)
                {
                    throw new IOException($"kill({target}, {signal}) failed: {LibC.StrError(errno)}");
                }
            }
        }
    }

    private void Start()
    {
        Live[Pid] = this;
        new Thread(ReadLoop) { IsBackground = true, Name = $"pty-read-{Pid}" }.Start();
        new Thread(ReapLoop) { IsBackground = true, Name = $"pty-wait-{Pid}" }.Start();
    }

    private unsafe void ReadLoop()
    {
        var buffer = new byte[ReadBufferBytes];
        try
        {
            while (!_stopReading)
            {
                var chunk = ReadOnce(buffer);
                if (chunk < 0)
                {
                    break;
                }

                if (chunk > 0)
                {
                    Deliver(buffer.AsSpan(0, chunk).ToArray());
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            _outputCompleted.TrySetResult();
        }
    }

    private void Deliver(byte[] chunk)
    {
        var handlers = OutputReceived;
        if (handlers is null)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<ReadOnlyMemory<byte>>)handler)(chunk);
            }
            catch (Exception)
            {
                // A failing subscriber must not stop the terminal for the others.
            }
        }
    }

    private unsafe void ReapLoop()
    {
        // 1. Wait for the exit WITHOUT reaping: the zombie keeps the pid (and so the pgid) from being reused.
        var info = stackalloc byte[LibC.SigInfoBytes];
        int rc;
        do
        {
            rc = LibC.WaitId(LibC.PPid, Pid, info, LibC.WExited | LibC.WNoWait);
        }
        while (rc < 0 && LibC.LastErrno == LibC.EIntr);

        var code = -1;
        lock (_signalGate)
        {
            // 2. Whatever is left of the group dies with its leader.
            _ = LibC.Kill(-Pid, LibC.SigKill);

            // 3. Reap; from now on the pid may be reused, so no more signals go to it.
            if (rc == 0)
            {
                int status;
                int reaped;
                do
                {
                    reaped = LibC.WaitPid(Pid, &status, 0);
                }
                while (reaped < 0 && LibC.LastErrno == LibC.EIntr);

                if (reaped == Pid)
                {
                    var termSignal = status & 0x7f;
                    code = termSignal == 0 ? (status >> 8) & 0xff : 128 + termSignal;
                }
            }

            _reaped = true;
            Live.TryRemove(Pid, out _);
        }

        if (rc != 0)
        {
            // ECHILD: not waitable (this process ignores SIGCHLD, or a reap-all handler took it). Wait until
            // the pid is gone; the exit code is unknown.
            while (LibC.Kill(Pid, 0) == 0)
            {
                Thread.Sleep(50);
            }
        }

        _exited.TrySetResult(code);
        _ = StopReadingIfStuckAsync();
    }

    private async Task StopReadingIfStuckAsync()
    {
        await Task.WhenAny(_outputCompleted.Task, Task.Delay(DrainAfterExit)).ConfigureAwait(false);
        _stopReading = true;
    }

    /// <summary>Bytes read, 0 for nothing yet, -1 for end of output (EIO, EOF or a closed terminal).</summary>
    private unsafe int ReadOnce(byte[] buffer)
    {
        var fd = AcquireMaster();
        try
        {
            var pollFd = new LibC.PollFd { Fd = fd, Events = LibC.PollIn };
            var ready = LibC.Poll(&pollFd, 1, PollTimeoutMs);
            if (ready < 0)
            {
                return LibC.LastErrno == LibC.EIntr ? 0 : -1;
            }

            if (ready == 0)
            {
                return 0;
            }

            fixed (byte* p = buffer)
            {
                var n = LibC.Read(fd, p, buffer.Length);
                if (n > 0)
                {
                    return (int)n;
                }

                if (n == 0)
                {
                    return -1;
                }

                var errno = LibC.LastErrno;
                return errno is LibC.EAgain or LibC.EIntr ? 0 : -1; // EIO: every slave fd is closed = EOF
            }
        }
        finally
        {
            _master.DangerousRelease();
        }
    }

    private unsafe int WriteSome(ReadOnlySpan<byte> data)
    {
        var fd = AcquireMaster();
        try
        {
            fixed (byte* p = data)
            {
                var n = LibC.Write(fd, p, data.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = LibC.LastErrno;
                if (errno is LibC.EAgain or LibC.EIntr)
                {
                    return 0;
                }

                throw new IOException($"writing to the terminal failed: {LibC.StrError(errno)}");
            }
        }
        finally
        {
            _master.DangerousRelease();
        }
    }

    private unsafe void WaitWritable()
    {
        var fd = AcquireMaster();
        try
        {
            var pollFd = new LibC.PollFd { Fd = fd, Events = LibC.PollOut };
            _ = LibC.Poll(&pollFd, 1, 50);
        }
        finally
        {
            _master.DangerousRelease();
        }
    }

    /// <summary>Adds a reference so the fd cannot be closed (and reused) under a syscall; throws
    /// ObjectDisposedException once closed. Pair with DangerousRelease.</summary>
    private int AcquireMaster()
    {
        var added = false;
        _master.DangerousAddRef(ref added);
        return (int)_master.DangerousGetHandle();
    }

    /// <summary>Baton's own variables (BATON_*, GESTALT_TOKEN, ConnectionStrings__*, services__*, Kestrel__*), never handed to an agent.</summary>
    public static bool IsBatonPlumbing(string key) =>
        key.StartsWith("BATON_", StringComparison.Ordinal) || key is "GESTALT_TOKEN"
        || key.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
        || key.StartsWith("services__", StringComparison.Ordinal)
        || key.StartsWith("Kestrel__", StringComparison.Ordinal);

    private static Dictionary<string, string> BuildEnvironment(PtySpawnOptions options)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (options.InheritEnvironment)
        {
            foreach (System.Collections.DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
            {
                environment[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
            }

            // Baton's own plumbing (internal secret, admin token, Redis, service addresses) must never
            // reach an agent CLI; what a run needs is passed explicitly in options.Environment.
            foreach (var key in environment.Keys.Where(IsBatonPlumbing).ToList())
            {
                environment.Remove(key);
            }
        }

        foreach (var (key, value) in options.Environment)
        {
            if (key.Length == 0 || key.Contains('=') || key.Contains('\0') || value.Contains('\0'))
            {
                throw new PtySpawnException($"environment variable '{key}' is invalid");
            }

            environment[key] = value;
        }

        environment.TryAdd("TERM", "xterm-256color");
        return environment;
    }

    private static string ResolveExecutable(string fileName, string workingDirectory, string? searchPath)
    {
        if (fileName.Contains('/'))
        {
            var full = Path.GetFullPath(fileName, workingDirectory);
            if (!File.Exists(full))
            {
                throw new PtySpawnException($"executable '{fileName}' was not found ({full} does not exist)", LibC.ENoEnt);
            }

            if (!IsExecutable(full))
            {
                throw new PtySpawnException($"'{full}' is not executable", LibC.EAcces);
            }

            return full;
        }

        searchPath ??= "/usr/local/bin:/usr/bin:/bin";
        foreach (var directory in searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(Path.GetFullPath(directory, workingDirectory), fileName);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }

        throw new PtySpawnException($"executable '{fileName}' was not found on PATH ({searchPath})", LibC.ENoEnt);
    }

    private static bool IsExecutable(string path)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("pseudo-terminals need Linux");
        }

        return (File.GetUnixFileMode(path) & anyExecute) != 0;
    }

    private static unsafe (SafeFileHandle Master, string PtsName) OpenMaster(ushort columns, ushort rows)
    {
        // posix_openpt with O_CLOEXEC instead of openpty + fcntl: no window in which a concurrent
        // fork/exec elsewhere in this process could inherit the master.
        var fd = LibC.PosixOpenPt(LibC.ORdWr | LibC.ONoCtty | LibC.OCloExec | LibC.ONonBlock);
        if (fd < 0)
        {
            var errno = LibC.LastErrno;
            throw new PtySpawnException($"could not open a pseudo-terminal: {LibC.StrError(errno)}", errno);
        }

        var master = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (LibC.GrantPt(fd) != 0 || LibC.UnlockPt(fd) != 0)
            {
                var errno = LibC.LastErrno;
                throw new PtySpawnException($"could not unlock the pseudo-terminal: {LibC.StrError(errno)}", errno);
            }

            var name = stackalloc byte[256];
            var rc = LibC.PtsNameR(fd, name, 256);
            if (rc != 0)
            {
                throw new PtySpawnException($"ptsname_r failed: {LibC.StrError(rc)}", rc);
            }

            var size = new LibC.WinSize { Col = columns, Row = rows };
            if (LibC.Ioctl(fd, LibC.TiocSWinSz, &size) != 0)
            {
                var errno = LibC.LastErrno;
                throw new PtySpawnException($"TIOCSWINSZ failed: {LibC.StrError(errno)}", errno);
            }

            return (master, Marshal.PtrToStringUTF8((nint)name)!);
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    private static unsafe int SpawnOnSlave(
        string executable, PtySpawnOptions options, string workingDirectory, Dictionary<string, string> environment, string ptsName)
    {
        using var strings = new NativeStrings();
        var slavePath = strings.Add(ptsName);

        // Keep the slave open in the parent until the child has it (posix_spawn returns after exec),
        // then close it: while the parent holds it the reader never sees EOF.
        var slave = LibC.Open(slavePath, LibC.ORdWr | LibC.ONoCtty | LibC.OCloExec);
        if (slave < 0)
        {
            var errno = LibC.LastErrno;
            throw new PtySpawnException($"could not open {ptsName}: {LibC.StrError(errno)}", errno);
        }

        var attr = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        var actions = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        var signals = NativeMemory.AllocZeroed(LibC.SigSetBytes);
        var attrReady = false;
        var actionsReady = false;
        try
        {
            Check(LibC.PosixSpawnAttrInit(attr), "posix_spawnattr_init");
            attrReady = true;
            Check(LibC.PosixSpawnAttrSetFlags(attr, LibC.PosixSpawnSetSid | LibC.PosixSpawnSetSigDef | LibC.PosixSpawnSetSigMask),
                "posix_spawnattr_setflags");
            _ = LibC.SigFillSet(signals);
            Check(LibC.PosixSpawnAttrSetSigDefault(attr, signals), "posix_spawnattr_setsigdefault");
            _ = LibC.SigEmptySet(signals);
            Check(LibC.PosixSpawnAttrSetSigMask(attr, signals), "posix_spawnattr_setsigmask");

            Check(LibC.PosixSpawnFileActionsInit(actions), "posix_spawn_file_actions_init");
            actionsReady = true;
            // setsid runs before the file actions, so opening the slave makes it the controlling terminal.
            Check(LibC.PosixSpawnFileActionsAddOpen(actions, 0, slavePath, LibC.ORdWr, 0), "posix_spawn_file_actions_addopen");
            Check(LibC.PosixSpawnFileActionsAddDup2(actions, 0, 1), "posix_spawn_file_actions_adddup2");
            Check(LibC.PosixSpawnFileActionsAddDup2(actions, 0, 2), "posix_spawn_file_actions_adddup2");
            Check(LibC.PosixSpawnFileActionsAddChdirNp(actions, strings.Add(workingDirectory)), "posix_spawn_file_actions_addchdir_np");

            var argv = strings.AddArray([options.FileName, .. options.Arguments]);
            var envp = strings.AddArray(environment.Select(pair => $"{pair.Key}={pair.Value}"));
            var path = strings.Add(executable);

            int pid;
            var rc = LibC.PosixSpawn(&pid, path, actions, attr, argv, envp);
            if (rc != 0)
            {
                throw new PtySpawnException($"could not start '{options.FileName}' ({executable}): {LibC.StrError(rc)}", rc);
            }

            return pid;
        }
        finally
        {
            if (actionsReady)
            {
                _ = LibC.PosixSpawnFileActionsDestroy(actions);
            }

            if (attrReady)
            {
                _ = LibC.PosixSpawnAttrDestroy(attr);
            }

            NativeMemory.Free(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(signals);
            _ = LibC.Close(slave);
        }
    }

    private static void Check(int rc, string call)
    {
        if (rc != 0)
        {
            throw new PtySpawnException($"{call} failed: {LibC.StrError(rc)}", rc);
        }
    }

    /// <summary>NUL-terminated UTF-8 copies that live until disposed.</summary>
    private sealed unsafe class NativeStrings : IDisposable
    {
        private readonly List<nint> _allocations = [];

        public byte* Add(string value)
        {
            if (value.Contains('\0'))
            {
                throw new PtySpawnException("arguments and paths must not contain NUL characters");
            }

            var bytes = Encoding.UTF8.GetByteCount(value);
            var memory = (byte*)NativeMemory.Alloc((nuint)bytes + 1);
            _allocations.Add((nint)memory);
            Encoding.UTF8.GetBytes(value, new Span<byte>(memory, bytes));
            memory[bytes] = 0;
            return memory;
        }

        public byte** AddArray(IEnumerable<string> values)
        {
            var list = values.ToList();
            var array = (byte**)NativeMemory.AllocZeroed((nuint)(list.Count + 1), (nuint)sizeof(nint));
            _allocations.Add((nint)array);
            for (var i = 0; i < list.Count; i++)
            {
                array[i] = Add(list[i]);
            }

            return array;
        }

        public void Dispose()
        {
            foreach (var allocation in _allocations)
            {
                NativeMemory.Free((void*)allocation);
            }
        }
    }
}
