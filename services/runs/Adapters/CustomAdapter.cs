using System.Text.Json.Nodes;

namespace Baton.Runs.Adapters;

/// <summary>
/// Any command line from <c>provider_config.command</c> (run by <c>/bin/sh -c</c>; the task is in
/// <c>$BATON_TASK</c>), optionally <c>provider_config.resume_command</c> for /continue (the message in
/// <c>$BATON_TASK</c>, the session in <c>$BATON_SESSION_ID</c>). Raw terminal output only: no events.
/// </summary>
public sealed class CustomAdapter : ICliAdapter
{
    public string CliName => "custom";

    public bool UsesHooks => false;

    public CliCommand BuildCommand(CliLaunch launch)
    {
        var command = launch.ResumeSessionId is not null ? Json.String(launch.ProviderConfig, "resume_command") : null;
        command ??= Json.String(launch.ProviderConfig, "command")
            ?? throw new InvalidOperationException("custom agents need provider_config.command");
        var env = Json.StringMap(launch.ProviderConfig["env"]);
        env["BATON_TASK"] = launch.Prompt;
        if (launch.ResumeSessionId is not null)
        {
            env["BATON_SESSION_ID"] = launch.ResumeSessionId;
        }
        return new CliCommand("/bin/sh", ["-c", command], env);
    }

    /// <summary>An arbitrary command has no known interactive resume.</summary>
    public bool CanResumeInteractively => false;

    public CliCommand BuildInteractiveCommand(CliLaunch launch) =>
        throw new InvalidOperationException("custom agents have no interactive mode to resume");

    public ICliOutputParser CreateParser() => new NoEvents();

    private sealed class NoEvents : ICliOutputParser
    {
        public IEnumerable<AdapterEvent> ParseLine(string line) => [];
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject CloneObject(this JsonObject value) => (JsonObject)value.DeepClone();
}
