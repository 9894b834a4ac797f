using Tomlyn;
using Tomlyn.Model;

namespace Baton.Runs.Catalog;

/// <summary>
/// A Gestalt agent profile, <c>agents/&lt;id&gt;.toml</c> (NOTES §1.1). <see cref="Shell"/> is the command line the
/// session runs; other top-level keys (Codex's <c>approval_policy</c> …) are kept in <see cref="Extra"/>.
/// </summary>
public sealed record AgentProfile(
    string Id,
    string Name,
    string Shell,
    string CliType,
    string Interface,
    IReadOnlyList<string> Prompts,
    IReadOnlyList<string> Skills,
    bool Singleton,
    string Model,
    bool Hidden,
    string OnAirString,
    string Path,
    IReadOnlyDictionary<string, object?> Extra);

/// <summary>A config file that could not be read: which line (when known) and why.</summary>
public sealed class ConfigFileException(string message, int? line = null) : Exception(message)
{
    public int? Line { get; } = line;
}

public static class AgentProfileParser
{
    private static readonly HashSet<string> Known = ["name", "shell", "cli_type", "interface", "prompt", "skills", "singleton", "model", "hidden", "onair_string"];

    /// <summary>Parses one profile; throws <see cref="ConfigFileException"/> with the line of the problem.</summary>
    public static AgentProfile Parse(string id, string path, string text)
    {
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(text) ?? [];
        }
        catch (TomlException ex)
        {
            throw new ConfigFileException(StripPosition(ex.Message), ex.Line > 0 ? ex.Line : null);
        }

        var name = String(table, "name", text);
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ConfigFileException("agent name is required", LineOf(text, "name"));
        }
        var cliType = String(table, "cli_type", text).Trim();
        var shell = String(table, "shell", text).Trim();
        if (shell.Length == 0 && cliType.Length == 0)
        {
            throw new ConfigFileException("shell or cli_type is required", LineOf(text, "shell"));
        }
        var interfaceKind = String(table, "interface", text).Trim();
        if (interfaceKind.Length == 0)
        {
            interfaceKind = "cli";
        }
        else if (interfaceKind != "cli")
        {
            throw new ConfigFileException($"interface must be \"cli\", not \"{interfaceKind}\"", LineOf(text, "interface"));
        }

        var extra = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in table)
        {
            if (!Known.Contains(key))
            {
                extra[key] = value;
            }
        }

        return new AgentProfile(
            id,
            name.Trim(),
            shell,
            cliType.Length > 0 ? cliType : InferCliType(shell),
            interfaceKind,
            StringList(table, "prompt", text, allowSingle: true),
            StringList(table, "skills", text, allowSingle: false),
            Bool(table, "singleton", text) ?? true,
            String(table, "model", text).Trim(),
            Bool(table, "hidden", text) ?? false,
            String(table, "onair_string", text),
            path,
            extra);
    }

    private static string InferCliType(string shell)
    {
        var first = shell.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return System.IO.Path.GetFileName(first) switch
        {
            "claude" => "claude",
            "codex" => "codex",
            "copilot" => "copilot",
            _ => "custom",
        };
    }

    private static string String(TomlTable table, string key, string text) => table.TryGetValue(key, out var value)
        ? value as string ?? throw new ConfigFileException($"{key} must be a string", LineOf(text, key))
        : "";

    private static bool? Bool(TomlTable table, string key, string text) => table.TryGetValue(key, out var value)
        ? value as bool? ?? throw new ConfigFileException($"{key} must be true or false", LineOf(text, key))
        : null;

    private static IReadOnlyList<string> StringList(TomlTable table, string key, string text, bool allowSingle)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return [];
        }
        if (allowSingle && value is string single)
        {
            return string.IsNullOrWhiteSpace(single) ? [] : [single.Trim()];
        }
        if (value is TomlArray array)
        {
            var list = new List<string>();
            foreach (var item in array)
            {
                if (item is not string s)
                {
                    throw new ConfigFileException($"{key} entries must be strings", LineOf(text, key));
                }
                if (!string.IsNullOrWhiteSpace(s))
                {
                    list.Add(s.Trim());
                }
            }
            return list;
        }
        throw new ConfigFileException(allowSingle ? $"{key} must be a string or an array of strings" : $"{key} must be an array of strings", LineOf(text, key));
    }

    /// <summary>The 1-based line where <paramref name="key"/> is assigned at the top level, if any.</summary>
    internal static int? LineOf(string text, string key)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimStart();
            if (line.StartsWith('['))
            {
                break;
            }
            if (line.StartsWith(key, StringComparison.Ordinal) && line[key.Length..].TrimStart().StartsWith('='))
            {
                return i + 1;
            }
        }
        return null;
    }

    // Tomlyn prefixes "(line,col) : error : "; the report names file and line itself.
    private static string StripPosition(string message)
    {
        var marker = message.IndexOf(": error : ", StringComparison.Ordinal);
        return (marker >= 0 ? message[(marker + ": error : ".Length)..] : message).Trim();
    }
}
