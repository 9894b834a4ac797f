namespace Baton.Sessions.Tests.Infrastructure;

/// <summary>A temporary folder under /tmp (short: tmux socket paths are limited to ~100 bytes), deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix) => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    public string Write(string relative, string content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
