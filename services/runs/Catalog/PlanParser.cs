using System.Text;
using System.Text.RegularExpressions;

namespace Baton.Runs.Catalog;

public sealed record PlanHeading(int Level, string Keyword, string Priority, string Text, string Body, IReadOnlyList<PlanHeading> Children);

public sealed record PlanDocument(
    string Filename, string Title, string Subtitle, string Date, string Keywords, IReadOnlyList<PlanHeading> Headings,
    int L1Count, int L2Count, int PriorityA, int PriorityB, int PriorityC);

/// <summary>
/// Org-mode plans (<c>plans/*.org</c>, NOTES §1.4): <c>#+TITLE/SUBTITLE/DATE/KEYWORDS</c>, level-1 headings with
/// their level-2 children (deeper headings stay in the body, as Gestalt shows them), <c>TODO/WIP/DONE</c>,
/// <c>[#A]</c>–<c>[#C]</c>; counts of L1 and L2 headings and of L2 priorities.
/// </summary>
public static partial class PlanParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static PlanDocument Parse(string filename, byte[] content)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(content);
        }
        catch (DecoderFallbackException ex)
        {
            var line = 1 + content.AsSpan(0, Math.Min(ex.Index < 0 ? 0 : ex.Index, content.Length)).Count((byte)'\n');
            throw new ConfigFileException("the plan is not valid UTF-8", line);
        }
        if (text.Contains('\0'))
        {
            throw new ConfigFileException("the plan contains a NUL character", 1 + text.AsSpan(0, text.IndexOf('\0')).Count('\n'));
        }
        return Parse(filename, text);
    }

    public static PlanDocument Parse(string filename, string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var properties = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var roots = new List<Builder>();
        Builder? currentL1 = null;
        Builder? current = null;
        int l1 = 0, l2 = 0, a = 0, b = 0, c = 0;

        foreach (var line in lines)
        {
            var heading = HeadingLine().Match(line);
            var level = heading.Success ? heading.Groups["stars"].Length : 0;
            if (level is 1 or 2)
            {
                var (keyword, priority, title) = SplitHeadline(heading.Groups["rest"].Value);
                var node = new Builder(level, keyword, priority, title);
                if (level == 1)
                {
                    roots.Add(node);
                    currentL1 = node;
                    l1++;
                }
                else
                {
                    l2++;
                    switch (priority.ToUpperInvariant())
                    {
                        case "A": a++; break;
                        case "B": b++; break;
                        case "C": c++; break;
                    }
                    if (currentL1 is null)
                    {
                        // A level-2 heading before any level-1 one has no parent to belong to.
                        current = null;
                        continue;
                    }
                    currentL1.Children.Add(node);
                }
                current = node;
                continue;
            }
            if (current is null)
            {
                var property = PropertyLine().Match(line);
                if (property.Success)
                {
                    properties.TryAdd(property.Groups["key"].Value, property.Groups["value"].Value.Trim());
                }
                continue;
            }
            current.Body.AppendLine(line);
        }

        return new PlanDocument(
            filename,
            properties.GetValueOrDefault("title", ""),
            properties.GetValueOrDefault("subtitle", ""),
            properties.GetValueOrDefault("date", ""),
            properties.GetValueOrDefault("keywords", ""),
            roots.Select(r => r.Build()).ToList(),
            l1, l2, a, b, c);
    }

    private static (string Keyword, string Priority, string Text) SplitHeadline(string rest)
    {
        var words = rest.Trim();
        var keyword = "";
        foreach (var candidate in (string[])["TODO", "WIP", "DONE"])
        {
            if (words == candidate || words.StartsWith(candidate + " ", StringComparison.Ordinal))
            {
                keyword = candidate;
                words = words[candidate.Length..].TrimStart();
                break;
            }
        }
        var priority = "";
        var match = PriorityToken().Match(words);
        if (match.Success)
        {
            priority = match.Groups["p"].Value;
            words = words[match.Length..].TrimStart();
        }
        return (keyword, priority, words.Trim());
    }

    [GeneratedRegex(@"^(?<stars>\*+)\s+(?<rest>.*)$")]
    private static partial Regex HeadingLine();

    [GeneratedRegex(@"^#\+(?<key>[A-Za-z_]+):(?<value>.*)$")]
    private static partial Regex PropertyLine();

    [GeneratedRegex(@"^\[#(?<p>[A-Za-z0-9])\]")]
    private static partial Regex PriorityToken();

    private sealed class Builder(int level, string keyword, string priority, string text)
    {
        public StringBuilder Body { get; } = new();
        public List<Builder> Children { get; } = [];

        public PlanHeading Build() => new(level, keyword, priority, text,
            Body.ToString().TrimStart('\n').TrimEnd('\r', '\n', '\t', ' '),
            Children.Select(child => child.Build()).ToList());
    }
}
