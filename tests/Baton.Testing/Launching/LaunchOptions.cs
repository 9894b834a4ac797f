namespace Baton.AppHost.Orchestration;

public enum RedisMode
{
    /// <summary><c>ConnectionStrings__redis</c> if set, else redis-server on the PATH, else Garnet.</summary>
    Auto,
    RedisServer,
    Garnet,
}

public sealed class LaunchOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 8080;
    public int GrpcPort { get; set; } = 8081;
    public string? TlsCertificatePath { get; set; }
    public string? TlsKeyPath { get; set; }
    public string? Token { get; set; }
    public required string DataDir { get; set; }
    public required string WorkDir { get; set; }
    public string? RedisConnectionString { get; set; }
    public RedisMode RedisMode { get; set; } = RedisMode.Auto;
    /// <summary>Extra environment for every child process (tests use it for service settings).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);
    public bool UseColor { get; set; } = !Console.IsOutputRedirected;
    /// <summary>Each output line of every child, already prefixed; the CLI prints them, tests keep them.</summary>
    public Action<string, string>? OnOutput { get; set; }
    /// <summary>An upper bound only: a service is healthy in a second or two, but test assemblies run in parallel on two cores.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(120);

    public bool UsesTls => TlsCertificatePath is not null;
}
