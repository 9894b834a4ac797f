namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// Field caps every service applies (README, "Input limits"). They are generous for people and
/// small enough that no single value can bloat a database row, a log line or a command line.
/// </summary>
public static class Limits
{
    /// <summary>Identifiers and keys: ids, names of branches, integrations, profiles, tools.</summary>
    public const int Id = 256;
    /// <summary>Names and titles people give things (projects, agents, sessions).</summary>
    public const int Name = 256;
    /// <summary>Paths and URLs.</summary>
    public const int Path = 4096;
    /// <summary>Free text: tasks, instructions, messages, templates (64 KiB).</summary>
    public const int Text = 64 * 1024;
    /// <summary>How much of a rejected value an error message or a log line quotes.</summary>
    public const int Quote = 64;
}
