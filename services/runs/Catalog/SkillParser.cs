using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Baton.Runs.Catalog;

/// <summary>A Claude-style skill folder, <c>skills/&lt;name&gt;/SKILL.md</c>.</summary>
public sealed record Skill(string Name, string Description, string Path, string License, bool HasScripts, bool HasReferences, bool HasAssets);

public static class SkillParser
{
    /// <summary>Reads the YAML front matter of a <c>SKILL.md</c>; throws <see cref="ConfigFileException"/> with the file's line.</summary>
    public static Skill Parse(string folder, string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || lines[0].Trim() != "---")
        {
            throw new ConfigFileException("SKILL.md must start with YAML front matter (a --- line)", 1);
        }
        var end = Array.FindIndex(lines, 1, l => l.Trim() is "---" or "...");
        if (end < 0)
        {
            throw new ConfigFileException("the YAML front matter is not closed by a --- line", lines.Length);
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(string.Join('\n', lines[1..end])));
            if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is not YamlScalarNode { Value: null or "" })
            {
                if (stream.Documents[0].RootNode is not YamlMappingNode mapping)
                {
                    throw new ConfigFileException("the front matter must be a mapping of keys to values", 2);
                }
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is YamlScalarNode { Value: { } k } && value is YamlScalarNode { Value: { } v })
                    {
                        fields[k] = v;
                    }
                }
            }
        }
        catch (YamlException ex)
        {
            // Front matter starts on line 2 of the file.
            throw new ConfigFileException(ex.InnerException?.Message ?? ex.Message, (int)ex.Start.Line + 1);
        }

        var name = fields.GetValueOrDefault("name")?.Trim();
        return new Skill(
            string.IsNullOrEmpty(name) ? System.IO.Path.GetFileName(folder) : name,
            fields.GetValueOrDefault("description", "").Trim(),
            folder,
            fields.GetValueOrDefault("license", "").Trim(),
            Directory.Exists(System.IO.Path.Combine(folder, "scripts")),
            Directory.Exists(System.IO.Path.Combine(folder, "references")),
            Directory.Exists(System.IO.Path.Combine(folder, "assets")));
    }
}
