using Baton.ServiceDefaults.Validation;

namespace Baton.Git.Infrastructure;

/// <summary>
/// Branch names checked with git's own rules (<c>git check-ref-format --branch</c>) before any git
/// call, so user input can never reach git's argument list as an option or as revision syntax
/// (<c>@{-1}</c>, <c>a..b</c>, <c>HEAD~1</c>) and an invalid name is a clear 400.
/// </summary>
public static class RefNames
{
    /// <summary>A file-system component is at most 255 bytes; a branch name stays well inside it.</summary>
    public const int MaxLength = 200;

    /// <summary>What is wrong with <paramref name="name"/> as a branch name, or null when it is valid.</summary>
    public static string? ProblemWithBranch(string name)
    {
        if (name.Length == 0)
        {
            return "is empty";
        }
        if (name.Length > MaxLength)
        {
            return $"is longer than {MaxLength} characters";
        }
        if (name[0] == '-')
        {
            return "starts with '-'";
        }
        if (name is "HEAD" or "@")
        {
            return $"is '{name}', which git reserves";
        }
        if (name.StartsWith("refs/", StringComparison.Ordinal))
        {
            return "is a full ref name; give the branch name without refs/heads/";
        }
        if (name.Contains("..", StringComparison.Ordinal))
        {
            return "contains '..'";
        }
        if (name.Contains("@{", StringComparison.Ordinal))
        {
            return "contains '@{'";
        }
        if (name.StartsWith('/') || name.EndsWith('/') || name.Contains("//", StringComparison.Ordinal))
        {
            return "has an empty path component";
        }
        if (name.EndsWith('.'))
        {
            return "ends with '.'";
        }
        foreach (var component in name.Split('/'))
        {
            if (component.StartsWith('.'))
            {
                return "has a component starting with '.'";
            }
            if (component.EndsWith(".lock", StringComparison.Ordinal))
            {
                return "has a component ending with '.lock'";
            }
        }
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
            {
                return "contains a lone UTF-16 surrogate";
            }
            if (c < 0x20 || c == 0x7f)
            {
                return $"contains the control character U+{(int)c:X4}";
            }
            if (c is ' ' or '~' or '^' or ':' or '?' or '*' or '[' or '\\')
            {
                return $"contains '{c}'";
            }
            if (c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F')
            {
                return $"contains the bidirectional control character U+{(int)c:X4}";
            }
        }
        return null;
    }

    /// <summary>The name when it is a valid branch name; otherwise InvalidArgument naming the field and the rule.</summary>
    public static string RequireBranch(string? name, string field)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Input.Invalid($"{field} is required");
        }
        return ProblemWithBranch(name) is { } problem
            ? throw Input.Invalid($"{field} {Input.Quote(name)} is not a valid branch name: it {problem}")
            : name;
    }

    /// <summary>A revision a run may start from: HEAD, a commit id (4–40 hex digits) or a valid branch name.</summary>
    public static string RequireRevision(string? revision, string field)
    {
        if (revision is "HEAD" || (revision is { Length: >= 4 and <= 40 } && revision.All(char.IsAsciiHexDigit)))
        {
            return revision;
        }
        return RequireBranch(revision, field);
    }
}
