using System.Globalization;

namespace Baton.Runs;

/// <summary>The runs service's own settings, read from the environment.</summary>
public sealed class RunsConfiguration
{
    /// <summary>BATON_MAX_CONCURRENT_RUNS: runs that may run at once; the rest wait, FIFO (default 4).</summary>
    public int MaxConcurrentRuns { get; init; } = 4;

    /// <summary>BATON_PUBLIC_URL: the gateway URL the CLI's hooks call (default http://127.0.0.1:8080).</summary>
    public string PublicUrl { get; init; } = "http://127.0.0.1:8080";

    /// <summary>BATON_BRANCH_PREFIX: run branches are "&lt;prefix&gt;run-&lt;8 hex&gt;" (default "baton/").</summary>
    public string BranchPrefix { get; init; } = "baton/";

    /// <summary>BATON_CLAUDE_COMMAND / BATON_CODEX_COMMAND: the CLI executables (default "claude", "codex").</summary>
    public string ClaudeCommand { get; init; } = "claude";

    public string CodexCommand { get; init; } = "codex";

    /// <summary>BATON_KILL_GRACE_SECONDS: SIGTERM → SIGKILL delay for a run's process group (default 3).</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>BATON_NOTIFY_RETRY_BASE_MS: first Discord retry delay, doubled per attempt (default 1000).</summary>
    public TimeSpan NotifyRetryBase { get; init; } = TimeSpan.FromSeconds(1);

    public int NotifyAttempts { get; init; } = 5;

    /// <summary>BATON_TERMINAL_RING_BYTES: recent output replayed to a terminal viewer that attaches (default 100 KB).</summary>
    public int TerminalRingBytes { get; init; } = 100 * 1024;

    public static RunsConfiguration FromConfiguration(IConfiguration configuration)
    {
        static int Int(string? value, int fallback) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
        static double Double(string? value, double fallback) => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : fallback;
        static string Text(string? value, string fallback) => string.IsNullOrWhiteSpace(value) ? fallback : value;
        return new RunsConfiguration
        {
            MaxConcurrentRuns = Int(configuration["BATON_MAX_CONCURRENT_RUNS"], 4),
            PublicUrl = Text(configuration["BATON_PUBLIC_URL"], "http://127.0.0.1:8080").TrimEnd('/'),
            BranchPrefix = configuration["BATON_BRANCH_PREFIX"] ?? "baton/",
            ClaudeCommand = Text(configuration["BATON_CLAUDE_COMMAND"], "claude"),
            CodexCommand = Text(configuration["BATON_CODEX_COMMAND"], "codex"),
            KillGrace = TimeSpan.FromSeconds(Double(configuration["BATON_KILL_GRACE_SECONDS"], 3)),
            NotifyRetryBase = TimeSpan.FromMilliseconds(Double(configuration["BATON_NOTIFY_RETRY_BASE_MS"], 1000)),
            TerminalRingBytes = Int(configuration["BATON_TERMINAL_RING_BYTES"], 100 * 1024),
        };
    }
}
