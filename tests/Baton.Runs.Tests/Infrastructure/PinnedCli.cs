using System.Reflection;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>
/// Finds a real agent CLI pinned for the tests: its path variable (<c>BATON_TEST_CLAUDE_CLI</c>,
/// <c>BATON_TEST_CODEX_CLI</c>), else the copy <c>npm ci</c> installed from the pinned manifest in
/// <c>tests/Baton.Runs.Tests/{ClaudeCli,CodexCli}</c>. Without it the tests that need it are skipped,
/// unless CI requires it (<c>BATON_REQUIRE_…_CLI=1</c>), where they fail instead.
/// </summary>
public sealed class PinnedCli
{
    public static readonly PinnedCli Claude = new("the Claude Code CLI", "ClaudeCliDirectory", "claude", "CLAUDE");
    public static readonly PinnedCli Codex = new("the OpenAI Codex CLI", "CodexCliDirectory", "codex", "CODEX");

    private PinnedCli(string name, string manifestKey, string binary, string variableStem)
    {
        Name = name;
        PathVariable = $"BATON_TEST_{variableStem}_CLI";
        RequireVariable = $"BATON_REQUIRE_{variableStem}_CLI";
        ManifestDirectory = typeof(PinnedCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == manifestKey).Value!;
        Executable = Find(binary);
    }

    public string Name { get; }
    public string PathVariable { get; }
    public string RequireVariable { get; }
    public string ManifestDirectory { get; }

    /// <summary>The CLI's path, or null when it is not installed.</summary>
    public string? Executable { get; }

    public string InstallHint => $"install it with `npm ci --prefix {ManifestDirectory} --no-audit --no-fund` or set {PathVariable} to its binary";

    public bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    public string RequireExecutable() =>
        Executable ?? throw new InvalidOperationException($"{RequireVariable}=1 but {Name} is not installed: {InstallHint}");

    /// <summary>Why a test needing this CLI is skipped, or null when it runs.</summary>
    public string? SkipReason => Executable is null && !Required ? $"{Name} is not installed: {InstallHint}" : null;

    private string? Find(string binary)
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }
        var installed = Path.Combine(ManifestDirectory, "node_modules", ".bin", binary);
        return File.Exists(installed) ? installed : null;
    }
}

/// <summary>A fact that needs the real Claude Code CLI (<see cref="PinnedCli.Claude"/>).</summary>
public sealed class RealClaudeCliFactAttribute : FactAttribute
{
    public RealClaudeCliFactAttribute() => Skip = PinnedCli.Claude.SkipReason;
}

/// <summary>A fact that needs the real OpenAI Codex CLI (<see cref="PinnedCli.Codex"/>).</summary>
public sealed class RealCodexCliFactAttribute : FactAttribute
{
    public RealCodexCliFactAttribute() => Skip = PinnedCli.Codex.SkipReason;
}
