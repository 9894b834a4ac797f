using Microsoft.Extensions.Configuration;

namespace Baton.ServiceDefaults.Configuration;

/// <summary>Settings every Baton process shares, read from the environment the launcher hands it.</summary>
public sealed class BatonOptions
{
    public const string InternalSecretKey = "BATON_INTERNAL_SECRET";
    public const string DataDirKey = "BATON_DATA_DIR";
    public const string ParentPidKey = "BATON_PARENT_PID";

    public required string ServiceName { get; init; }
    public required string DataDir { get; init; }
    /// <summary>The shared secret that proves a caller is the gateway or another Baton service.</summary>
    public required string InternalSecret { get; init; }

    public string ServiceDataDir => Path.Combine(DataDir, ServiceName);

    public static BatonOptions FromConfiguration(IConfiguration configuration, string serviceName) => new()
    {
        ServiceName = serviceName,
        DataDir = ResolveDataDir(configuration[DataDirKey]),
        InternalSecret = configuration.GetRequiredValue(InternalSecretKey),
    };

    public static string ResolveDataDir(string? configured)
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
