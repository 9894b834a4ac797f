using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Web;

namespace Baton.Cli.Auth;

/// <summary>
/// The local end of the browser login: a listener on 127.0.0.1 (a free port the login names as
/// <c>callback_port</c>) that waits for the gateway's redirect <c>/?state=…&amp;token=gst_session_…</c>,
/// checks the state it generated, and answers the browser with a page saying it can be closed.
/// </summary>
public sealed class LoopbackCallback : IDisposable
{
    private const int MaxRequestBytes = 16 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public LoopbackCallback()
    {
        _listener.Start();
        State = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Random per login: a redirect without it (another page, a stale tab) is not accepted.</summary>
    public string State { get; }

    /// <summary>Waits for the redirect with the right state and returns the session token it carries.</summary>
    public async Task<string> WaitForTokenAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            using var client = await _listener.AcceptTcpClientAsync(cancellationToken);
            var stream = client.GetStream();
            var target = await ReadRequestTargetAsync(stream, cancellationToken);
            var query = target is null ? null : HttpUtility.ParseQueryString(new Uri(new Uri("http://127.0.0.1/"), target).Query);
            var state = query?["state"] ?? "";
            var token = query?["token"] ?? "";
            var error = query?["error"] ?? "";
            var matches = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(state), Encoding.UTF8.GetBytes(State));
            if (matches && token.Length > 0)
            {
                await RespondAsync(stream, 200, "Logged in to Baton. You can close this tab and return to the terminal.", cancellationToken);
                return token;
            }
            if (matches && error.Length > 0)
            {
                await RespondAsync(stream, 400, "Login failed: " + error, cancellationToken);
                throw new Infrastructure.CliException(Infrastructure.ExitCodes.Unauthorized, $"the login was refused ({Infrastructure.ErrorTranslation.OneLine(error)}); run 'baton login' again");
            }
            await RespondAsync(stream, 404, "Not the Baton login callback.", cancellationToken);
        }
    }

    private static async Task<string?> ReadRequestTargetAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        try
        {
            while (length < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(length), timeout.Token);
                if (read == 0)
                {
                    break;
                }
                length += read;
                if (buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) >= 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        var head = Encoding.ASCII.GetString(buffer, 0, length);
        var line = head.Split("\r\n", 2)[0].Split(' ');
        return line.Length == 3 && line[0] == "GET" && line[1].StartsWith('/') ? line[1] : null;
    }

    private static async Task RespondAsync(NetworkStream stream, int status, string message, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes($"<!doctype html><meta charset=\"utf-8\"><title>Baton</title><p>{WebUtility.HtmlEncode(message)}</p>\n");
        var reason = status switch { 200 => "OK", 400 => "Bad Request", _ => "Not Found" };
        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
        try
        {
            await stream.WriteAsync(head, cancellationToken);
            await stream.WriteAsync(body, cancellationToken);
        }
        catch (IOException)
        {
            // The browser went away; the token (if any) is still good.
        }
    }

    public void Dispose() => _listener.Dispose();
}
