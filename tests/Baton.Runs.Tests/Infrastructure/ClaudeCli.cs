using System.Reflection;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>
/// Finds the real Claude Code CLI for <c>RealClaudeCliTests</c>: <c>BATON_TEST_CLAUDE_CLI</c>, else the
/// copy <c>npm ci</c> installed from the pinned manifest in <c>tests/Baton.Runs.Tests/ClaudeCli</c>.
/// </summary>
public static class ClaudeCli
{
    public const string PathVariable = "BATON_TEST_CLAUDE_CLI";
    public const string RequireVariable = "BATON_REQUIRE_CLAUDE_CLI";

    public static readonly string ManifestDirectory =
        typeof(ClaudeCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ClaudeCliDirectory").Value!;

    public static string InstallHint =>
        $"install it with `npm ci --prefix {ManifestDirectory} --no-audit --no-fund` or set {PathVariable} to a claude binary";

    /// <summary>The CLI's path, or null when it is not installed.</summary>
    public static string? Executable { get; } = Find();

    /// <summary>CI sets BATON_REQUIRE_CLAUDE_CLI=1: there a missing CLI fails the tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    public static string RequireExecutable() =>
        Executable ?? throw new InvalidOperationException($"{RequireVariable}=1 but the Claude Code CLI is not installed: {InstallHint}");

    private static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }
        var installed = Path.Combine(ManifestDirectory, "node_modules", ".bin", "claude");
        return File.Exists(installed) ? installed : null;
    }
}

/// <summary>A fact that needs the real Claude Code CLI: skipped when it is missing, unless CI requires it (then it fails).</summary>
public sealed class RealClaudeCliFactAttribute : FactAttribute
{
    public RealClaudeCliFactAttribute()
    {
        if (ClaudeCli.Executable is null && !ClaudeCli.Required)
        {
            Skip = $"the real Claude Code CLI is not installed: {ClaudeCli.InstallHint}";
        }
    }
}
