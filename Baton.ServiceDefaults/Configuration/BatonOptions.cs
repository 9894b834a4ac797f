using Microsoft.Extensions.Configuration;

namespace Baton.ServiceDefaults.Configuration;

/// <summary>Settings every Baton process shares, read from the environment the launcher hands it.</summary>
public sealed class BatonOptions
{
    public const string InternalSecretKey = "BATON_INTERNAL_SECRET";
    public const string DataDirKey = "BATON_DATA_DIR";
    public const string ParentPidKey = "BATON_PARENT_PID";
    public const string ConfigDirKey = "BATON_CONFIG_DIR";

    public required string ServiceName { get; init; }
    public required string DataDir { get; init; }
    /// <summary>The shared secret that proves a caller is the gateway or another Baton service.</summary>
    public required string InternalSecret { get; init; }

    /// <summary>What the user writes (agent profiles, skills, plans, flows, integrations.yaml); watched, never written by Baton except flows.</summary>
    public required string ConfigDir { get; init; }

    public string ServiceDataDir => Path.Combine(DataDir, ServiceName);

    public static BatonOptions FromConfiguration(IConfiguration configuration, string serviceName) => new()
    {
        ServiceName = serviceName,
        DataDir = ResolveDataDir(configuration[DataDirKey]),
        InternalSecret = configuration.GetRequiredValue(InternalSecretKey),
        ConfigDir = ResolveConfigDir(configuration[ConfigDirKey]),
    };

    /// <summary><c>BATON_CONFIG_DIR</c>, else <c>$XDG_CONFIG_HOME/baton</c>, else <c>~/.config/baton</c>.</summary>
    public static string ResolveConfigDir(string? configured) => ResolveXdg(configured, "XDG_CONFIG_HOME", ".config");

    public static string ResolveDataDir(string? configured) => ResolveXdg(configured, "XDG_DATA_HOME", Path.Combine(".local", "share"));

    private static string ResolveXdg(string? configured, string xdgVariable, string homeFallback)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }
        var xdg = Environment.GetEnvironmentVariable(xdgVariable);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrWhiteSpace(xdg) ? Path.Combine(home, homeFallback) : xdg, "baton");
    }
}
