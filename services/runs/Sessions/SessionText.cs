using System.Text;
using System.Text.RegularExpressions;

namespace Baton.Runs.Sessions;

/// <summary>Terminal bytes as readable lines: escape sequences and control characters removed, a carriage return
/// overwriting what came before it on the line (a progress bar shows its last state).</summary>
public static partial class SessionText
{
    public static List<string> Lines(ReadOnlySpan<byte> bytes, bool dropTrailingEmpty = true)
    {
        var text = Escapes().Replace(Encoding.UTF8.GetString(bytes), "");
        var lines = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var cr = line.LastIndexOf('\r');
            if (cr >= 0)
            {
                line = line[(cr + 1)..];
            }
            lines.Add(Controls().Replace(line, ""));
        }
        if (dropTrailingEmpty && lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }
        return lines;
    }

    /// <summary>One line of terminal bytes (no newline in it) as text.</summary>
    public static string Clean(ReadOnlySpan<byte> line)
    {
        var text = Escapes().Replace(Encoding.UTF8.GetString(line), "").TrimEnd('\r');
        var cr = text.LastIndexOf('\r');
        return Controls().Replace(cr >= 0 ? text[(cr + 1)..] : text, "");
    }

    /// <summary>The last <paramref name="count"/> lines of <paramref name="bytes"/>.</summary>
    public static List<string> Tail(ReadOnlySpan<byte> bytes, int count)
    {
        var lines = Lines(bytes);
        return lines.Count > count ? lines[^count..] : lines;
    }

    // CSI, OSC (BEL or ST terminated), DCS/PM/APC strings, and two-byte ESC sequences.
    [GeneratedRegex(@"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]?")]
    private static partial Regex Escapes();

    [GeneratedRegex(@"[\x00-\x08\x0b-\x1f\x7f]")]
    private static partial Regex Controls();
}
