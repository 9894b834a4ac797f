namespace Baton.Runs.Sessions;

/// <summary>
/// <c>GET /api/sessions/{id}/history</c>: pages backwards through the session log. A page is the <c>lines</c> whole
/// lines that end before <c>before_cursor</c> (a byte offset; default the end of the log); its <c>cursor</c> is the
/// offset where its first line starts, absent once the page reaches the oldest retained byte.
/// </summary>
public static class SessionHistory
{
    private const int Chunk = 64 * 1024;

    public static (List<string> Lines, long? Cursor) Page(SessionOutput output, int count, long? before)
    {
        var start = output.Start;
        var end = Math.Clamp(before ?? output.End, start, output.End);
        var position = end;
        var data = Array.Empty<byte>();
        // Read chunks backwards until there are count + 1 newlines (count whole lines and the boundary before them).
        while (position > start && NewlinesExcludingLast(data) <= count)
        {
            var from = Math.Max(start, position - Chunk);
            var chunk = output.Read(from, position);
            if (chunk.Length == 0)
            {
                break;
            }
            data = [.. chunk, .. data];
            position = from;
        }

        var segments = new List<(long Offset, int Index, int Length)>();
        var lineStart = 0;
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] == (byte)'\n')
            {
                segments.Add((position + lineStart, lineStart, i - lineStart));
                lineStart = i + 1;
            }
        }
        if (lineStart < data.Length)
        {
            segments.Add((position + lineStart, lineStart, data.Length - lineStart));
        }
        if (position > start && segments.Count > 0)
        {
            // The first segment may begin mid-line: it belongs to the next (older) page.
            segments.RemoveAt(0);
        }
        var page = segments.Count > count ? segments[^count..] : segments;
        var lines = page.Select(s => SessionText.Clean(data.AsSpan(s.Index, s.Length))).ToList();
        long? cursor = page.Count > 0 && page[0].Offset > start ? page[0].Offset : null;
        if (page.Count == 0 && end > start)
        {
            cursor = null;
        }
        return (lines, cursor);
    }

    private static int NewlinesExcludingLast(byte[] data)
    {
        var count = data.AsSpan().Count((byte)'\n');
        return data.Length > 0 && data[^1] == (byte)'\n' ? count - 1 : count;
    }
}
