using System.Net;
using System.Net.Sockets;

namespace Baton.AppHost.Orchestration;

public static class Ports
{
    private const int LowestCandidate = 20000;
    private const int DefaultEphemeralStart = 32768;
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A loopback port that is free right now and that nothing else will take by accident before the
    /// caller binds it. Port 0 would give one from the kernel's ephemeral range, which outgoing
    /// connections draw from too: between picking and binding, any client socket may take it. So the
    /// pick is random below that range, verified by binding, and never handed out twice on the machine
    /// while its process lives (<see cref="PortReservations"/>).
    /// </summary>
    public static int Free()
    {
        var ceiling = EphemeralRangeStart();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var candidate = Random.Shared.Next(LowestCandidate, ceiling);
            lock (HandedOut)
            {
                if (HandedOut.Contains(candidate) || !IsFree(candidate) || !PortReservations.TryReserve(candidate))
                {
                    continue;
                }
                HandedOut.Add(candidate);
                return candidate;
            }
        }
        throw new LaunchException($"no free loopback port found between {LowestCandidate} and {ceiling}");
    }

    public static void EnsureAvailable(string host, int port, string flag)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Parse(host == "localhost" ? "127.0.0.1" : host), port);
            listener.Start();
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            throw new LaunchException($"port {port} on {host} is already in use; stop whatever holds it or choose another with {flag}");
        }
    }

    /// <summary>Whether a listener can bind this loopback port right now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (int.TryParse(range[0], out var start) && start > LowestCandidate + 1000)
            {
                return start;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return DefaultEphemeralStart;
    }
}

public sealed class LaunchException(string message) : Exception(message);
