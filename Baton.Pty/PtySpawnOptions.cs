namespace Baton.Pty;

/// <summary>
/// What to start in a new pseudo-terminal.
/// </summary>
/// <param name="FileName">An executable: a bare name is looked up on the PATH of the child's environment,
/// a relative path is taken from <paramref name="WorkingDirectory"/>.</param>
/// <param name="Arguments">argv[1..]; argv[0] is <paramref name="FileName"/> as given.</param>
/// <param name="WorkingDirectory">Must exist.</param>
/// <param name="Environment">Variables for the child. With <paramref name="InheritEnvironment"/> they are laid
/// over this process's environment, otherwise they are the whole environment. TERM defaults to xterm-256color.</param>
/// <param name="Columns">Initial width (TIOCSWINSZ before the child starts).</param>
/// <param name="Rows">Initial height.</param>
/// <param name="InheritEnvironment">Start from this process's environment (default; Baton's own variables —
/// <c>BATON_*</c>, <c>GESTALT_TOKEN</c>, <c>ConnectionStrings__*</c>, <c>services__*</c>, <c>Kestrel__*</c> — are
/// always left out) or from nothing.</param>
public sealed record PtySpawnOptions(
    string FileName,
    IReadOnlyList<string> Arguments,
    string WorkingDirectory,
    IReadOnlyDictionary<string, string> Environment,
    ushort Columns = 120,
    ushort Rows = 30,
    bool InheritEnvironment = true);

/// <summary>The PTY or the process could not be created; <see cref="Exception.Message"/> says why.</summary>
public sealed class PtySpawnException(string message, int errno = 0) : Exception(message)
{
    /// <summary>The errno behind the failure, 0 when it was found before calling the OS.</summary>
    public int Errno { get; } = errno;
}
