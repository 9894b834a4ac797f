using System.Reflection;

namespace Baton.AppHost.Hosting;

/// <summary>
/// A Baton service run from its build output (<c>dotnet Baton.X.dll</c>). Aspire's project
/// resources start each one through <c>dotnet run --no-build</c>, which evaluates the project with
/// MSBuild on every start and stays resident as the service's parent: measured here, that added
/// tens of seconds to a start on two busy cores and about 130 MB per service.
/// </summary>
public sealed class BatonServiceResource(string name, string assemblyPath)
    : ExecutableResource(name, "dotnet", Path.GetDirectoryName(assemblyPath)!), IResourceWithServiceDiscovery
{
    public string AssemblyPath { get; } = assemblyPath;
}

public static class BatonServiceResourceExtensions
{
    public static IResourceBuilder<BatonServiceResource> AddBatonService(this IDistributedApplicationBuilder builder, string name)
    {
        var assembly = BuildOutput.AssemblyPath(name);
        // The app folder is the content root, so each service finds its appsettings.json.
        return builder.AddResource(new BatonServiceResource(name, assembly))
            .WithArgs(assembly)
            .WithOtlpExporter()
            .WithIconName(name == BatonModel.Gateway ? "ArrowRouting" : "AppGeneric");
    }
}

/// <summary>Where this build put the services (the AppHost builds them through its project references).</summary>
public static class BuildOutput
{
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
        typeof(BuildOutput).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata {key} missing");
}
