using System.Net;
using System.Net.Sockets;

namespace Baton.AppHost.Hosting;

/// <summary>
/// Ports for endpoints that DCP must not proxy. Aspire lets DCP pick ports only for proxied
/// endpoints; a proxied hop would put DCP's TCP proxy between the gateway and every service call,
/// so the AppHost picks the services' ports itself and declares them as proxyless endpoints.
/// </summary>
public static class LoopbackPorts
{
    private const int LowestCandidate = 20000;
    private const int DefaultEphemeralStart = 32768;
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A loopback port that is free now and that no outgoing connection will take before it is bound:
    /// picked at random below the kernel's ephemeral range (which port 0 and client sockets draw from),
    /// verified by binding, and never handed out twice per process.
    /// </summary>
    public static int Free()
    {
        var ceiling = EphemeralRangeStart();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var candidate = Random.Shared.Next(LowestCandidate, ceiling);
            lock (HandedOut)
            {
                if (HandedOut.Contains(candidate) || !IsFree(IPAddress.Loopback, candidate))
                {
                    continue;
                }
                HandedOut.Add(candidate);
                return candidate;
            }
        }
        throw new InvalidOperationException($"no free loopback port found between {LowestCandidate} and {ceiling}");
    }

    /// <summary>The preferred port when it is free, else any free one (a second Baton, or a test, may hold the default).</summary>
    public static int PreferredOrFree(int preferred) => IsFree(IPAddress.Loopback, preferred) ? preferred : Free();

    /// <summary>Null when the port can be bound on the host, else what to tell the user.</summary>
    public static string? Problem(string host, int port, string flag)
    {
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var parsed) ? parsed : null;
        if (address is null)
        {
            return $"--host must be an IP address or localhost, not '{host}'";
        }
        return IsFree(address, port) ? null : $"port {port} on {host} is already in use; stop whatever holds it or choose another with {flag}";
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            using var listener = new TcpListener(address, port);
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
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return DefaultEphemeralStart;
    }
}
