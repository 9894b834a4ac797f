namespace Baton.Runs.Sessions;

/// <summary>Who an agent CLI's process belongs to, for whatever adds to its environment.</summary>
/// <param name="Kind"><c>session</c> (or <c>run</c>).</param>
/// <param name="Id">The session id (<c>Coder 1</c>) or run id.</param>
/// <param name="AgentId">The profile id (file stem) or run agent id.</param>
/// <param name="CliType"><c>claude</c>, <c>codex</c>, <c>copilot</c> … (the profile's <c>cli_type</c>).</param>
public sealed record AgentProcessContext(string Kind, string Id, string AgentId, string CliType);

/// <summary>
/// The seam for OpenTelemetry (issue 9): every registered contributor may add variables to an agent CLI's
/// environment before it starts (e.g. <c>CLAUDE_CODE_ENABLE_TELEMETRY=1</c>, <c>OTEL_EXPORTER_OTLP_*</c> pointed at
/// Baton's receiver with an ingest-only credential, <c>OTEL_RESOURCE_ATTRIBUTES</c> carrying the session id).
/// Sessions call every <c>IAgentEnvironmentContributor</c> in DI; none registered means no additions.
/// </summary>
public interface IAgentEnvironmentContributor
{
    void Contribute(AgentProcessContext context, IDictionary<string, string> environment);
}
