using System.Security.Cryptography;

namespace Baton.Testing;

/// <summary>
/// What every test process shares: one temp root for everything the tests (and the processes they
/// start) write, removed when the process exits, so a run leaves nothing in the machine's temp
/// folder; and git that reads no user or system configuration. Each test assembly calls
/// <see cref="Initialize"/> from a module initializer, before any test runs.
/// </summary>
public static class TestEnvironment
{
    private static readonly Lock Gate = new();
    private static string? _root;

    /// <summary>The temp folder the machine gave this process before <see cref="Initialize"/> moved TMPDIR.</summary>
    public static string MachineTemp { get; private set; } = Path.GetTempPath();

    /// <summary>This process's temp root (TMPDIR points here, so children and <c>Path.GetTempPath()</c> use it too).</summary>
    public static string Root
    {
        get
        {
            Initialize();
            return _root!;
        }
    }

    public static void Initialize()
    {
        lock (Gate)
        {
            if (_root is not null)
            {
                return;
            }
            MachineTemp = Path.GetTempPath();
            var root = Path.Combine(MachineTemp, $"baton-tests-{Environment.ProcessId}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}");
            Directory.CreateDirectory(root);
            // Ports.Free reserves ports with lock files that every test process on the machine must see.
            Environment.SetEnvironmentVariable("BATON_PORT_LOCK_DIR", Environment.GetEnvironmentVariable("BATON_PORT_LOCK_DIR") ?? Path.Combine(MachineTemp, "baton-ports"));
            Environment.SetEnvironmentVariable("TMPDIR", root);
            // Tests must not depend on (or be broken by) the developer's ~/.gitconfig or /etc/gitconfig.
            Environment.SetEnvironmentVariable("GIT_CONFIG_GLOBAL", "/dev/null");
            Environment.SetEnvironmentVariable("GIT_CONFIG_NOSYSTEM", "1");
            _root = root;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteQuietly(root);
        }
    }

    /// <summary>A new empty folder under this process's temp root.</summary>
    public static string NewDirectory(string prefix)
    {
        var path = Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)]);
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
