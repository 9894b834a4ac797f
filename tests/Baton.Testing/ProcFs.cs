using System.Globalization;

namespace Baton.Testing;

/// <summary>What the tests read about processes from /proc (Linux).</summary>
public static class ProcFs
{
    /// <summary>The fields of <c>/proc/&lt;pid&gt;/stat</c> after the command name: [0] state, [1] ppid, [2] pgid, [3] session…; null when the process is gone.</summary>
    public static string[]? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid) => Stat(pid) is [var state, ..] && state is not ("Z" or "X");

    public static int? ProcessGroup(int pid) => Stat(pid) is { Length: > 2 } fields ? int.Parse(fields[2], CultureInfo.InvariantCulture) : null;

    public static IEnumerable<int> AllPids()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>Live (non-zombie) members of a process group.</summary>
    public static List<int> LiveGroupMembers(int pgid) =>
        AllPids().Where(pid => Stat(pid) is [var state, _, var group, ..] && state is not ("Z" or "X") && group == pgid.ToString(CultureInfo.InvariantCulture)).ToList();

    /// <summary>The command line of a process (NUL-separated arguments joined by spaces), or "" when it is gone.</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static int OpenFileDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}
