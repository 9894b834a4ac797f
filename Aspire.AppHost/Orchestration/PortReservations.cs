namespace Baton.AppHost.Orchestration;

/// <summary>
/// Reserves a port for this process's lifetime across every process on the machine that uses
/// <see cref="Ports.Free"/> (test assemblies run at once): an exclusively locked file per port in a
/// shared folder (<c>BATON_PORT_LOCK_DIR</c>, default <c>$TMPDIR/baton-ports</c>). The lock dies with
/// the process, so a crashed process cannot hold a port forever; the files are removed at exit.
/// </summary>
internal static class PortReservations
{
    private static readonly Dictionary<int, (string Path, FileStream Lock)> Held = [];
    private static string? _folder;

    static PortReservations() => AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();

    public static bool TryReserve(int port)
    {
        var folder = Environment.GetEnvironmentVariable("BATON_PORT_LOCK_DIR") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Path.GetTempPath(), "baton-ports");
        var path = Path.Combine(folder, port.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".lock");
        try
        {
            Directory.CreateDirectory(folder);
            _folder = folder;
            // FileShare.None is an exclusive flock(2) on Unix: another process's open fails while we hold it.
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            lock (Held)
            {
                Held[port] = (path, stream);
            }
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            // No shared folder to coordinate in: uniqueness within this process still holds.
            return true;
        }
    }

    private static void ReleaseAll()
    {
        lock (Held)
        {
            foreach (var (path, stream) in Held.Values)
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
                stream.Dispose();
            }
            Held.Clear();
            try
            {
                // Only when empty: another process's locks keep it (a process that loses this race retries elsewhere).
                if (_folder is not null)
                {
                    Directory.Delete(_folder);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
