using System.Diagnostics;

namespace Baton.Cli.Tests.Infrastructure;

/// <summary>A private tmux server (its own socket name) with one window: a real terminal a test types into and reads.</summary>
public sealed class Tmux : IDisposable
{
    private readonly string _socket = "baton-cli-" + Guid.NewGuid().ToString("N")[..12];

    private Tmux()
    {
    }

    public const string Target = "t";

    /// <summary>
    /// Whether the shell in the pane finished writing a line to <paramref name="path"/>: a redirection
    /// creates the file before the command writes to it, so existing is not enough.
    /// </summary>
    public static bool Wrote(string path) => File.Exists(path) && File.ReadAllText(path).EndsWith('\n');

    /// <summary>Starts a plain bash (no rc files) in a window of the given size with the given environment.</summary>
    public static Tmux Start(int columns, int rows, IReadOnlyDictionary<string, string?> environment, string workingDirectory)
    {
        var tmux = new Tmux();
        var arguments = new List<string> { "new-session", "-d", "-s", Target, "-x", columns.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", workingDirectory };
        foreach (var (key, value) in environment)
        {
            arguments.Add("-e");
            arguments.Add($"{key}={value ?? ""}");
        }
        arguments.AddRange(["bash", "--norc", "--noprofile"]);
        tmux.Run([.. arguments]);
        return tmux;
    }

    /// <summary>Types text literally (no key-name lookup), then Enter when asked.</summary>
    public void Type(string text, bool enter = true)
    {
        Run("send-keys", "-t", Target, "-l", text);
        if (enter)
        {
            Run("send-keys", "-t", Target, "Enter");
        }
    }

    /// <summary>Sends raw bytes as keys, e.g. 0x1d for Ctrl-].</summary>
    public void SendBytes(params byte[] bytes)
    {
        var arguments = new List<string> { "send-keys", "-t", Target, "-H" };
        arguments.AddRange(bytes.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
        Run([.. arguments]);
    }

    public void Resize(int columns, int rows) =>
        Run("resize-window", "-t", Target, "-x", columns.ToString(System.Globalization.CultureInfo.InvariantCulture), "-y", rows.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The visible screen plus scrollback, wrapped lines joined.</summary>
    public string Screen() => Run("capture-pane", "-p", "-J", "-S", "-200", "-t", Target);

    public string Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-L");
        start.ArgumentList.Add(_socket);
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add("/dev/null");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tmux {string.Join(' ', arguments)} failed: {error}");
        }
        return output.Result;
    }

    public void Dispose()
    {
        try
        {
            Run("kill-server");
        }
        catch (InvalidOperationException)
        {
        }
    }
}
