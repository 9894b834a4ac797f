using System.Reflection;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>
/// Finds the real OpenAI Codex CLI for <c>RealCodexCliTests</c>: <c>BATON_TEST_CODEX_CLI</c>, else the
/// copy <c>npm ci</c> installed from the pinned manifest in <c>tests/Baton.Runs.Tests/CodexCli</c>.
/// </summary>
public static class CodexCli
{
    public const string PathVariable = "BATON_TEST_CODEX_CLI";
    public const string RequireVariable = "BATON_REQUIRE_CODEX_CLI";

    public static readonly string ManifestDirectory =
        typeof(CodexCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CodexCliDirectory").Value!;

    public static string InstallHint =>
        $"install it with `npm ci --prefix {ManifestDirectory} --no-audit --no-fund` or set {PathVariable} to a codex binary";

    /// <summary>The CLI's path, or null when it is not installed.</summary>
    public static string? Executable { get; } = Find();

    /// <summary>CI sets BATON_REQUIRE_CODEX_CLI=1: there a missing CLI fails the tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    public static string RequireExecutable() =>
        Executable ?? throw new InvalidOperationException($"{RequireVariable}=1 but the OpenAI Codex CLI is not installed: {InstallHint}");

    private static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }
        var installed = Path.Combine(ManifestDirectory, "node_modules", ".bin", "codex");
        return File.Exists(installed) ? installed : null;
    }
}

/// <summary>A fact that needs the real OpenAI Codex CLI: skipped when it is missing, unless CI requires it (then it fails).</summary>
public sealed class RealCodexCliFactAttribute : FactAttribute
{
    public RealCodexCliFactAttribute()
    {
        if (CodexCli.Executable is null && !CodexCli.Required)
        {
            Skip = $"the real OpenAI Codex CLI is not installed: {CodexCli.InstallHint}";
        }
    }
}
