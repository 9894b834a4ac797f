using System.Reflection;

namespace Baton.AppHost.Orchestration;

/// <summary>The processes Baton is made of, and where this build put them (Baton.Testing builds them through its project references).</summary>
public static class ServiceCatalog
{
    public static readonly IReadOnlyList<string> Backends = ["runs", "chat", "integrations", "git"];
    public const string Gateway = "gateway";

    public static string RepositoryRoot { get; } = Metadata("BatonRepositoryRoot");

    public static string AssemblyPath(string service)
    {
        var project = "Baton." + char.ToUpperInvariant(service[0]) + service[1..];
        var configuration = Metadata("BatonConfiguration").ToLowerInvariant();
        var path = Path.Combine(RepositoryRoot, "artifacts", "bin", project, configuration, project + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{project} is not built at {path}; run 'dotnet build Baton.slnx -c {configuration}' first.", path);
    }

    private static string Metadata(string key) =>
        typeof(ServiceCatalog).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata {key} missing");
}
