using System.Text;

namespace Baton.Testing;

public sealed record SseFrame(string? Id, string? Event, string Data, string? Comment, int? Retry);

/// <summary>Parses a text/event-stream incrementally, frame by frame (comments and retry included).</summary>
public sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);

    public async Task<SseFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        string? id = null, name = null, comment = null;
        int? retry = null;
        var data = new StringBuilder();
        var any = false;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return any ? new SseFrame(id, name, data.ToString(), comment, retry) : null;
            }
            if (line.Length == 0)
            {
                if (any)
                {
                    return new SseFrame(id, name, data.ToString(), comment, retry);
                }
                continue;
            }
            any = true;
            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "retry": retry = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "data":
                    if (data.Length > 0)
                    {
                        data.Append('\n');
                    }
                    data.Append(value);
                    break;
            }
        }
    }

    public void Dispose() => _reader.Dispose();
}
