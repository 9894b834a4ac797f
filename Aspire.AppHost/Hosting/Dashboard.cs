using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;

namespace Baton.AppHost.Hosting;

/// <summary>The Aspire dashboard on loopback, over plain HTTP, opened by BATON_TOKEN when one is set.</summary>
public static class Dashboard
{
    public const string UrlsKey = "ASPNETCORE_URLS";
    public const string OtlpKey = "ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL";
    public const string ResourceServiceKey = "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL";
    public const string BrowserTokenKey = "AppHost:BrowserToken";
    public const int DefaultPort = 18888;
    public const int DefaultOtlpPort = 18889;

    /// <summary>
    /// Defaults for what a launch profile would set; the user's own environment or launch profile
    /// wins. Ports fall back to free ones when another Baton (or a test) holds the defaults.
    /// </summary>
    public static void Configure(IDistributedApplicationBuilder builder, CommandLineOptions options)
    {
        var defaults = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(builder.Configuration[UrlsKey]))
        {
            defaults[UrlsKey] = $"http://127.0.0.1:{LoopbackPorts.PreferredOrFree(DefaultPort).ToString(CultureInfo.InvariantCulture)}";
        }
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpKey]) && string.IsNullOrWhiteSpace(builder.Configuration["DOTNET_DASHBOARD_OTLP_ENDPOINT_URL"]))
        {
            defaults[OtlpKey] = $"http://127.0.0.1:{LoopbackPorts.PreferredOrFree(DefaultOtlpPort).ToString(CultureInfo.InvariantCulture)}";
        }
        if (string.IsNullOrWhiteSpace(builder.Configuration[ResourceServiceKey]) && string.IsNullOrWhiteSpace(builder.Configuration["DOTNET_RESOURCE_SERVICE_ENDPOINT_URL"]))
        {
            // The AppHost's resource service, which feeds the dashboard; without a URL it would want HTTPS.
            defaults[ResourceServiceKey] = $"http://127.0.0.1:{LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture)}";
        }
        if (string.IsNullOrWhiteSpace(builder.Configuration[BrowserTokenKey]))
        {
            // One secret opens both: the admin token, when there is one.
            defaults[BrowserTokenKey] = options.Token ?? Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        }
        // Aspire's own start-up lines (and its login link, which would print the admin token) give way to Baton's banner.
        if (string.IsNullOrWhiteSpace(builder.Configuration["Logging:LogLevel:Aspire.Hosting.DistributedApplication"]))
        {
            defaults["Logging:LogLevel:Aspire.Hosting.DistributedApplication"] = "Warning";
        }
        // The resource service's key ring notes (it keeps its keys under ~/.aspnet) are not the user's business.
        if (string.IsNullOrWhiteSpace(builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"]))
        {
            defaults["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error";
        }
        builder.Configuration.AddInMemoryCollection(defaults);
    }

    public static string? Url(IConfiguration configuration) =>
        configuration[UrlsKey]?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.TrimEnd('/');
}
