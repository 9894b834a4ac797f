using System.Runtime.InteropServices;

namespace Baton.Cli.Terminal;

/// <summary>
/// The few libc calls a terminal client needs. The attach path writes with write(2) rather than
/// System.Console: the first Console write initialises .NET's terminal handling, which switches the
/// real terminal's cursor keys to application mode and would change what the remote program receives.
/// </summary>
internal static unsafe partial class Posix
{
    public const int StdIn = 0;
    public const int StdOut = 1;
    public const int StdErr = 2;
    public const int TcsaDrain = 1;
    public const ulong TiocGWinSz = 0x5413;
    public const short PollIn = 0x001;
    public const int EIntr = 4;
    public const int EAgain = 11;

    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport("libc", EntryPoint = "isatty")]
    public static partial int IsATty(int fd);

    // struct termios is 60 bytes on Linux; it is only copied, never interpreted, so an opaque buffer serves every layout.
    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int TcGetAttr(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int TcSetAttr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    public static partial void CfMakeRaw(byte* termios);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int IoctlWinSize(int fd, ulong request, WinSize* size);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    public static bool IsTerminal(int fd) => IsATty(fd) == 1;

    /// <summary>The window size of the terminal on <paramref name="fd"/>, or null when it is not one.</summary>
    public static (int Columns, int Rows)? GetWindowSize(int fd)
    {
        WinSize size;
        return IoctlWinSize(fd, TiocGWinSz, &size) == 0 && size.Columns > 0 && size.Rows > 0 ? (size.Columns, size.Rows) : null;
    }

    /// <summary>Writes all of <paramref name="data"/>, retrying short writes and EINTR.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            var offset = 0;
            while (offset < data.Length)
            {
                var written = Write(fd, start + offset, data.Length - offset);
                if (written < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno is EIntr or EAgain)
                    {
                        continue;
                    }
                    throw new IOException($"write to fd {fd} failed (errno {errno})");
                }
                offset += (int)written;
            }
        }
    }

    public static void WriteText(int fd, string text) => WriteAll(fd, System.Text.Encoding.UTF8.GetBytes(text));
}
