namespace Baton.Git;

/// <summary>Path canonicalisation: every symlink on the way is resolved, so allow-list checks see where a path really leads.</summary>
public static class PathSafety
{
    public static string Canonicalize(string path)
    {
        var full = Path.GetFullPath(path);
        var current = Path.GetPathRoot(full) ?? "/";
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                next = target is null ? next : Canonicalize(target.FullName);
            }
            current = next;
        }
        return current.Length > 1 ? current.TrimEnd(Path.DirectorySeparatorChar) : current;
    }

    public static bool IsUnder(string path, string root) =>
        path.Equals(root, StringComparison.Ordinal)
        || path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    public static bool HasTraversal(string path) =>
        path.Split(['/', '\\']).Any(segment => segment == "..");

    /// <summary>Names used as one path segment (repo names, run ids): no separators, no dot-only names.</summary>
    public static bool IsSafeSegment(string name) =>
        !string.IsNullOrWhiteSpace(name) && name.Length <= 100 && name != "." && name != ".."
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
