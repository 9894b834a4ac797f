using System.Globalization;
using Baton.ServiceDefaults.Configuration;

namespace Baton.Chat;

/// <summary>The chat service's settings, all from the environment.</summary>
public sealed class ChatOptions
{
    public const string ApprovalTimeoutKey = "BATON_CHAT_APPROVAL_TIMEOUT_SECONDS";
    public const string RepoRootsKey = "BATON_REPO_ROOTS";
    public const string CompactionThresholdKey = "BATON_CHAT_COMPACTION_THRESHOLD";
    public const string CommandTimeoutKey = "BATON_CHAT_COMMAND_TIMEOUT_SECONDS";
    public const string ToolOutputLimitKey = "BATON_CHAT_TOOL_OUTPUT_LIMIT";
    public const string MaxToolRoundsKey = "BATON_CHAT_MAX_TOOL_ROUNDS";
    public const string BwrapKey = "BATON_BWRAP";

    /// <summary>The chat service's own folder: its databases, key file and default workspaces.</summary>
    public required string DataDir { get; init; }
    public string WorkspacesDir => Path.Combine(DataDir, "workspaces");
    /// <summary>Baton's whole data folder, hidden from sandboxed commands.</summary>
    public required string BatonDataDir { get; init; }
    /// <summary>Canonical allowed roots for a chat's workspace; empty means any directory.</summary>
    public IReadOnlyList<string> RepoRoots { get; init; } = [];
    public TimeSpan ApprovalTimeout { get; init; } = TimeSpan.FromSeconds(300);
    public double CompactionThreshold { get; init; } = 0.75;
    /// <summary>How long <c>bash</c> may run outside the sandbox (inside it, the sandbox's <c>timeout_seconds</c>).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Characters of tool output handed back to the model.</summary>
    public int ToolOutputLimit { get; init; } = 30_000;
    /// <summary>Model calls in one turn before the loop stops, so a model that never stops calling tools cannot run forever.</summary>
    public int MaxToolRounds { get; init; } = 50;
    /// <summary>The bubblewrap binary: <c>BATON_BWRAP</c>, else <c>bwrap</c> on the PATH.</summary>
    public string? BwrapPath { get; init; }

    public static ChatOptions FromConfiguration(IConfiguration configuration, BatonOptions baton)
    {
        var roots = (configuration[RepoRootsKey] ?? "")
            .Split([Path.PathSeparator, ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => Tools.WorkspacePaths.Canonicalize(Path.GetFullPath(r)))
            .ToList();
        return new ChatOptions
        {
            DataDir = baton.ServiceDataDir,
            BatonDataDir = baton.DataDir,
            RepoRoots = roots,
            ApprovalTimeout = TimeSpan.FromSeconds(Positive(configuration[ApprovalTimeoutKey], 300)),
            CompactionThreshold = double.TryParse(configuration[CompactionThresholdKey], NumberStyles.Float, CultureInfo.InvariantCulture, out var t) && t > 0 && t <= 1 ? t : 0.75,
            CommandTimeout = TimeSpan.FromSeconds(Positive(configuration[CommandTimeoutKey], 120)),
            ToolOutputLimit = (int)Positive(configuration[ToolOutputLimitKey], 30_000),
            MaxToolRounds = (int)Positive(configuration[MaxToolRoundsKey], 50),
            // A BATON_BWRAP that names no file is bubblewrap missing: enabling the sandbox is refused, not left to fail per command.
            BwrapPath = string.IsNullOrWhiteSpace(configuration[BwrapKey]) ? FindOnPath("bwrap") : File.Exists(configuration[BwrapKey]) ? configuration[BwrapKey] : null,
        };
    }

    private static double Positive(string? value, double fallback) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : fallback;

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
