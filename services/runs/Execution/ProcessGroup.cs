using System.Runtime.InteropServices;

namespace Baton.Runs.Execution;

/// <summary>POSIX process-group signals (the CLI runs as a session leader, so its pid is its group id).</summary>
internal static partial class ProcessGroup
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Signals every process of the group; false when the group no longer exists.</summary>
    public static bool Signal(int processGroupId, int signal) => processGroupId > 0 && Kill(-processGroupId, signal) == 0;

    public static bool Exists(int processGroupId) => processGroupId > 0 && Kill(-processGroupId, 0) == 0;
}
