using System.Net;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Gateway;

/// <summary>The gateway's own settings, read once at start-up.</summary>
public sealed class GatewayOptions
{
    public static readonly string[] ServiceNames = ["runs", "chat", "integrations", "git"];

    /// <summary>The admin token (<c>BATON_TOKEN</c>, alias <c>GESTALT_TOKEN</c>); null disables auth on loopback.</summary>
    public string? AdminToken { get; init; }
    public required string PublicUrl { get; init; }
    public required string GrpcUrl { get; init; }
    public required string WorkDir { get; init; }
    public required IReadOnlyList<string> Experiments { get; init; }
    public TimeSpan MaxTokenLifetime { get; init; } = TimeSpan.FromDays(30);
    public required IReadOnlyDictionary<string, ServiceAddresses> Services { get; init; }
    public required IReadOnlyList<string> ListenUrls { get; init; }

    public bool AuthDisabled => AdminToken is null;

    public static GatewayOptions FromConfiguration(IConfiguration configuration)
    {
        var token = FirstNonEmpty(configuration["BATON_TOKEN"], configuration["GESTALT_TOKEN"]);
        var http = configuration["Kestrel:Endpoints:Http:Url"] ?? configuration["Kestrel:Endpoints:Https:Url"] ?? "http://127.0.0.1:8080";
        var grpc = configuration["Kestrel:Endpoints:Grpc:Url"] ?? configuration["Kestrel:Endpoints:Https:Url"] ?? "http://127.0.0.1:8081";
        var services = ServiceNames.ToDictionary(
            name => name,
            name => new ServiceAddresses(
                configuration.GetRequiredValue($"services:{name}:http:0"),
                configuration.GetRequiredValue($"services:{name}:grpc:0")));
        return new GatewayOptions
        {
            AdminToken = token,
            PublicUrl = (configuration["BATON_PUBLIC_URL"] ?? http).TrimEnd('/'),
            GrpcUrl = grpc.TrimEnd('/'),
            WorkDir = Path.GetFullPath(configuration["BATON_WORKDIR"] ?? Directory.GetCurrentDirectory()),
            Experiments = (configuration["BATON_EXPERIMENTS"] ?? "")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Services = services,
            ListenUrls = [http, grpc],
        };
    }

    /// <summary>Without a token the gateway must not be reachable from other machines.</summary>
    public void EnsureSafeToServe()
    {
        if (!AuthDisabled)
        {
            return;
        }
        foreach (var url in ListenUrls)
        {
            var host = new Uri(url.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal)).Host;
            if (!IsLoopbackHost(host))
            {
                throw new InvalidOperationException(
                    $"Refusing to listen on {url} without an admin token: set BATON_TOKEN, or listen on 127.0.0.1 only.");
            }
        }
    }

    public static bool IsLoopbackHost(string host)
    {
        host = host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}

public sealed record ServiceAddresses(string Http, string Grpc);
