using System.Globalization;

namespace Baton.AppHost;

public static class CommandLine
{
    public const string Usage = """
        usage: dotnet run --project Aspire.AppHost -- [options]
          --port N          REST, WebSocket and SSE port (default 8080)
          --grpc-port N     gRPC (cleartext HTTP/2) port (default 8081)
          --host ADDR       listen address (default 127.0.0.1; other addresses need a token)
          --token T         admin token (default: BATON_TOKEN or GESTALT_TOKEN; none = auth off, loopback only)
          --data-dir DIR    where services keep data (default: BATON_DATA_DIR or $XDG_DATA_HOME/baton)
          --workdir DIR     the repository /api/git/log describes (default: BATON_WORKDIR or the current directory)
          --tls-cert FILE   serve REST and gRPC on one TLS port (--port) with this certificate (PEM or PFX)
          --tls-key FILE    the certificate's private key (PEM)
          --redis MODE      auto | redis-server | garnet (default auto: ConnectionStrings__redis, else redis-server, else Garnet)
        """;

    public static bool TryParse(string[] args, out CommandLineOptions options, out string? problem)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        problem = null;
        options = null!;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                return false;
            }
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                problem = $"unexpected argument '{args[i]}'";
                return false;
            }
            values[args[i][2..]] = args[++i];
        }

        string? Get(string key, string? env = null) =>
            values.TryGetValue(key, out var v) ? v : env is null ? null : NonEmpty(Environment.GetEnvironmentVariable(env));

        if (!TryPort(Get("port") ?? "8080", "--port", out var port, ref problem) || !TryPort(Get("grpc-port") ?? "8081", "--grpc-port", out var grpcPort, ref problem))
        {
            return false;
        }
        if (!Enum.TryParse<EventBusMode>((Get("redis") ?? "auto").Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var redisMode))
        {
            problem = "--redis must be auto, redis-server or garnet";
            return false;
        }
        options = new CommandLineOptions
        {
            Host = Get("host") ?? "127.0.0.1",
            Port = port,
            GrpcPort = grpcPort,
            Token = Get("token", "BATON_TOKEN") ?? NonEmpty(Environment.GetEnvironmentVariable("GESTALT_TOKEN")),
            DataDir = DataDirectory.Resolve(Get("data-dir", "BATON_DATA_DIR")),
            WorkDir = Path.GetFullPath(Get("workdir", "BATON_WORKDIR") ?? Directory.GetCurrentDirectory()),
            TlsCertificatePath = Get("tls-cert"),
            TlsKeyPath = Get("tls-key"),
            EventBus = redisMode,
        };
        if (port == grpcPort && options.TlsCertificatePath is null)
        {
            problem = "--port and --grpc-port must differ: cleartext HTTP/1.1 and HTTP/2 cannot share a port (use --tls-cert for one port)";
            return false;
        }
        return true;
    }

    private static bool TryPort(string value, string flag, out int port, ref string? problem)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and < 65536)
        {
            return true;
        }
        problem = $"{flag} must be a port number between 1 and 65535, not '{value}'";
        return false;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

public enum EventBusMode
{
    /// <summary><c>ConnectionStrings__redis</c> if set, else redis-server on the PATH, else Garnet.</summary>
    Auto,
    RedisServer,
    Garnet,
}

public sealed class CommandLineOptions
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8080;
    public int GrpcPort { get; init; } = 8081;
    public string? TlsCertificatePath { get; init; }
    public string? TlsKeyPath { get; init; }
    public string? Token { get; init; }
    public required string DataDir { get; init; }
    public required string WorkDir { get; init; }
    public EventBusMode EventBus { get; init; } = EventBusMode.Auto;

    public bool UsesTls => TlsCertificatePath is not null;
    public string GatewayUrl => $"{(UsesTls ? "https" : "http")}://{UrlHost}:{Port}";
    public string GrpcUrl => UsesTls ? GatewayUrl : $"http://{UrlHost}:{GrpcPort}";
    private string UrlHost => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
}

public static class DataDirectory
{
    /// <summary>The configured folder, else <c>$XDG_DATA_HOME/baton</c> (<c>~/.local/share/baton</c>), as services resolve it too.</summary>
    public static string Resolve(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrWhiteSpace(xdg) ? Path.Combine(home, ".local", "share") : xdg, "baton");
    }
}
