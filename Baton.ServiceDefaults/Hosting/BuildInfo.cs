using System.Reflection;

namespace Baton.ServiceDefaults.Hosting;

/// <summary>The version and commit stamped into this build (see Directory.Build.targets).</summary>
public static class BuildInfo
{
    private static readonly Lazy<(string Version, string Commit)> Info = new(Read);

    public static string Version => Info.Value.Version;
    public static string Commit => Info.Value.Commit;
    public static DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>When this build was made: the entry assembly's file time (deterministic builds carry no timestamp).</summary>
    public static DateTimeOffset BuiltAt { get; } = File.GetLastWriteTimeUtc((Assembly.GetEntryAssembly() ?? typeof(BuildInfo).Assembly).Location);

    private static (string, string) Read()
    {
        var informational = typeof(BuildInfo).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, "") : (informational[..plus], informational[(plus + 1)..]);
    }
}
