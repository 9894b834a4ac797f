using Microsoft.Extensions.Configuration;

namespace Baton.ServiceDefaults.Configuration;

public static class ConfigurationExtensions
{
    /// <summary>Fails at start-up with the full configuration path when a required setting is missing.</summary>
    public static string GetRequiredValue(this IConfiguration configuration, string key)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            var path = configuration is IConfigurationSection section ? $"{section.Path}:{key}" : key;
            throw new InvalidOperationException(
                $"Configuration missing value for: {path} (environment variable {path.Replace(":", "__", StringComparison.Ordinal)})");
        }
        return value;
    }
}
