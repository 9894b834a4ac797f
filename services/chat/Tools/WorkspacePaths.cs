namespace Baton.Chat.Tools;

/// <summary>
/// Confines tool paths to a chat's workspace: a relative path is taken from the workspace, an
/// absolute one must already be inside it, and every symlink on the way is resolved before the
/// check, so neither <c>..</c> nor a link can lead out.
/// </summary>
public static class WorkspacePaths
{
    /// <summary>The real path of <paramref name="path"/> inside <paramref name="workspace"/> (itself canonical), or an error message.</summary>
    public static bool TryResolve(string workspace, string path, out string resolved, out string error)
    {
        resolved = "";
        error = "";
        if (string.IsNullOrWhiteSpace(path) || path.Contains('\0'))
        {
            error = "path is required";
            return false;
        }
        var full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(workspace, path));
        if (!IsUnder(full, workspace))
        {
            error = $"path {path} is outside the workspace {workspace}";
            return false;
        }
        var real = Canonicalize(full);
        if (!IsUnder(real, workspace))
        {
            error = $"path {path} leads outside the workspace through a symbolic link";
            return false;
        }
        resolved = real;
        return true;
    }

    /// <summary>Resolves every symlink component of an absolute path (components that do not exist yet are kept as they are).</summary>
    public static string Canonicalize(string path, int depth = 0)
    {
        if (depth > 40)
        {
            throw new IOException("too many levels of symbolic links");
        }
        var full = Path.GetFullPath(path);
        var current = Path.GetPathRoot(full) ?? "/";
        var parts = full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts)
        {
            var next = Path.Combine(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                var absolute = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
                next = Canonicalize(absolute, depth + 1);
            }
            current = next;
        }
        return current.Length > 1 ? current.TrimEnd(Path.DirectorySeparatorChar) : current;
    }

    public static bool IsUnder(string path, string root) =>
        path.Equals(root, StringComparison.Ordinal)
        || path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path as the model should see it: relative to the workspace.</summary>
    public static string Relative(string workspace, string path) => Path.GetRelativePath(workspace, path);
}
