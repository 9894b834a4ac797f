using System.Globalization;

namespace Baton.Runs.Sessions;

/// <summary>Settings of agent sessions, read from the environment.</summary>
public sealed record SessionsConfiguration
{
    /// <summary>BATON_WORKDIR: where sessions start (default: the service's working directory).</summary>
    public string WorkDir { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>BATON_SESSION_LOG_MAX_BYTES: the session log is rotated past this size (Gestalt's <c>session.log-max-bytes</c>, 5 MiB).</summary>
    public long LogMaxBytes { get; init; } = 5 * 1024 * 1024;

    /// <summary>BATON_SESSION_RING_BYTES: recent output a viewer gets when it attaches without a cursor (256 KiB).</summary>
    public int RingBytes { get; init; } = 256 * 1024;

    /// <summary>BATON_SESSION_SCROLLBACK_LINES: lines of <c>/output</c> and the default history page (2000).</summary>
    public int ScrollbackLines { get; init; } = 2000;

    /// <summary>BATON_TMUX: the tmux executable (default <c>tmux</c> on the PATH).</summary>
    public string TmuxCommand { get; init; } = "tmux";

    public static SessionsConfiguration FromConfiguration(IConfiguration configuration)
    {
        static long Long(string? value, long fallback) => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 1024 ? v : fallback;
        var workDir = configuration["BATON_WORKDIR"];
        return new SessionsConfiguration
        {
            WorkDir = string.IsNullOrWhiteSpace(workDir) || !Directory.Exists(workDir) ? Directory.GetCurrentDirectory() : Path.GetFullPath(workDir),
            LogMaxBytes = Long(configuration["BATON_SESSION_LOG_MAX_BYTES"], 5 * 1024 * 1024),
            RingBytes = (int)Math.Min(Long(configuration["BATON_SESSION_RING_BYTES"], 256 * 1024), 16 * 1024 * 1024),
            ScrollbackLines = int.TryParse(configuration["BATON_SESSION_SCROLLBACK_LINES"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var lines) && lines is > 0 and <= 100_000 ? lines : 2000,
            TmuxCommand = string.IsNullOrWhiteSpace(configuration["BATON_TMUX"]) ? "tmux" : configuration["BATON_TMUX"]!,
        };
    }
}
