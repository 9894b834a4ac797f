namespace Baton.Cli.Terminal;

/// <summary>
/// Puts the controlling terminal in raw mode (every key goes to the remote PTY, Ctrl+C included) and
/// restores the saved settings exactly once: on dispose, on process exit, or on an unhandled exception.
/// </summary>
internal sealed unsafe class RawTerminal : IDisposable
{
    private const int TermiosBytes = 256;
    private readonly byte[] _saved = new byte[TermiosBytes];
    private int _active;

    private RawTerminal()
    {
    }

    public static RawTerminal? Enter(int fd = Posix.StdIn)
    {
        if (!Posix.IsTerminal(fd))
        {
            return null;
        }
        var terminal = new RawTerminal();
        var raw = new byte[TermiosBytes];
        fixed (byte* saved = terminal._saved)
        fixed (byte* copy = raw)
        {
            if (Posix.TcGetAttr(fd, saved) != 0)
            {
                return null;
            }
            Buffer.MemoryCopy(saved, copy, TermiosBytes, TermiosBytes);
            Posix.CfMakeRaw(copy);
            AppDomain.CurrentDomain.ProcessExit += terminal.OnExit;
            AppDomain.CurrentDomain.UnhandledException += terminal.OnExit;
            terminal._active = 1;
            if (Posix.TcSetAttr(fd, Posix.TcsaDrain, copy) != 0)
            {
                terminal.Dispose();
                return null;
            }
        }
        return terminal;
    }

    private void OnExit(object? sender, EventArgs e) => Dispose();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _active, 0) == 0)
        {
            return;
        }
        fixed (byte* saved = _saved)
        {
            _ = Posix.TcSetAttr(Posix.StdIn, Posix.TcsaDrain, saved);
        }
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        AppDomain.CurrentDomain.UnhandledException -= OnExit;
    }
}
