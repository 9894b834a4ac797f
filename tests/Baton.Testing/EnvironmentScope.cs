namespace Baton.Testing;

/// <summary>Sets process environment variables for the life of a <c>using</c> and restores the previous values (or their absence) after.</summary>
public sealed class EnvironmentScope : IDisposable
{
    private readonly List<(string Name, string? Previous)> _previous = [];

    public EnvironmentScope(params (string Name, string? Value)[] variables)
    {
        foreach (var (name, value) in variables)
        {
            _previous.Add((name, Environment.GetEnvironmentVariable(name)));
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, previous) in Enumerable.Reverse(_previous))
        {
            Environment.SetEnvironmentVariable(name, previous);
        }
    }
}
