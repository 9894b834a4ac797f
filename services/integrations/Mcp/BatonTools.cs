using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;
using Baton.Integrations.Api;
using Baton.Integrations.Security;
using Baton.ServiceDefaults.Security;
using Google.Protobuf;
using Grpc.Core;
using ModelContextProtocol.Protocol;

namespace Baton.Integrations.Mcp;

/// <summary>
/// Baton's own MCP tools, so an MCP client can drive Baton itself: list projects and runs, start
/// a run, read a run's events and its changes. They call the runs and git services through their
/// generated gRPC clients, on behalf of the caller.
/// </summary>
public sealed class BatonTools(RunsService.RunsServiceClient runs, GitRestService.GitRestServiceClient git)
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public IReadOnlyList<Tool> Tools { get; } =
    [
        Define("baton_list_projects", "List Baton projects (id, name, repositories).", new JsonObject()),
        Define("baton_list_runs", "List agent runs, optionally of one project or with one status (queued, running, paused, completed, failed, cancelled).",
            new JsonObject { ["project_id"] = Prop("string", "Only runs of this project."), ["status"] = Prop("string", "Only runs with this status.") }),
        Define("baton_start_run", "Start an agent run: the agent works on the task in a fresh git worktree of its project.",
            new JsonObject
            {
                ["agent_id"] = Prop("string", "The agent that runs the task."),
                ["task"] = Prop("string", "What the agent should do."),
                ["source_branch"] = Prop("string", "Branch to start from (default HEAD)."),
            }, "agent_id", "task"),
        Define("baton_get_run_events", "Read a run's events (its output, tool calls, status changes) in order.",
            new JsonObject
            {
                ["run_id"] = Prop("string", "The run."),
                ["after_id"] = Prop("integer", "Only events after this id (for paging)."),
                ["limit"] = Prop("integer", "At most this many events (default 200)."),
            }, "run_id"),
        Define("baton_get_run_changes", "Read a run's changes: changed files, diff stats and the unified diff of its worktrees.",
            new JsonObject { ["run_id"] = Prop("string", "The run.") }, "run_id"),
    ];

    public bool Handles(string name) => Tools.Any(t => t.Name == name);

    public async Task<string> CallAsync(Caller caller, string name, IReadOnlyDictionary<string, JsonNode?> arguments, CancellationToken cancellationToken)
    {
        var headers = new Metadata
        {
            { InternalHeaders.User, caller.User },
            { InternalHeaders.AuthKind, caller.Kind },
        };
        var options = new CallOptions(headers, cancellationToken: cancellationToken, deadline: DateTime.UtcNow.AddSeconds(30));
        try
        {
            IMessage result = name switch
            {
                "baton_list_projects" => await runs.ListProjectsAsync(new ListProjectsRequest(), options),
                "baton_list_runs" => await runs.ListRunsAsync(new ListRunsRequest { ProjectId = Optional(arguments, "project_id"), Status = Optional(arguments, "status") }, options),
                "baton_start_run" => await runs.CreateRunAsync(new CreateRunRequest
                {
                    AgentId = Required(arguments, "agent_id"),
                    Task = Required(arguments, "task"),
                    SourceBranch = Optional(arguments, "source_branch"),
                }, options),
                "baton_get_run_events" => await runs.ListRunEventsAsync(new ListRunEventsRequest
                {
                    Id = Required(arguments, "run_id"),
                    AfterId = Number(arguments, "after_id", 0),
                    Limit = (int)Math.Clamp(Number(arguments, "limit", 200), 1, 1000),
                }, options),
                "baton_get_run_changes" => await git.GetRunChangesAsync(new RunRef { RunId = Required(arguments, "run_id") }, options),
                _ => throw IntegrationException.NotFound($"unknown tool \"{name}\""),
            };
            return Formatter.Format(result);
        }
        catch (RpcException ex)
        {
            throw new IntegrationException(ex.StatusCode switch
            {
                StatusCode.NotFound => 404,
                StatusCode.InvalidArgument => 400,
                StatusCode.FailedPrecondition or StatusCode.Aborted or StatusCode.AlreadyExists => 409,
                _ => 502,
            }, ex.Status.Detail);
        }
    }

    private static string Required(IReadOnlyDictionary<string, JsonNode?> arguments, string key) =>
        Optional(arguments, key) is { Length: > 0 } value ? value : throw IntegrationException.BadRequest($"missing required argument \"{key}\"");

    private static string Optional(IReadOnlyDictionary<string, JsonNode?> arguments, string key) =>
        arguments.TryGetValue(key, out var node) && node is JsonValue value && value.TryGetValue<string>(out var text) ? text : "";

    private static long Number(IReadOnlyDictionary<string, JsonNode?> arguments, string key, long fallback) =>
        arguments.TryGetValue(key, out var node) && node is JsonValue value && value.TryGetValue<long>(out var number) ? number : fallback;

    private static JsonObject Prop(string type, string description) => new() { ["type"] = type, ["description"] = description };

    private static Tool Define(string name, string description, JsonObject properties, params string[] required)
    {
        var schema = new JsonObject { ["type"] = "object", ["properties"] = properties };
        if (required.Length > 0)
        {
            schema["required"] = new JsonArray(required.Select(r => (JsonNode)JsonValue.Create(r)).ToArray());
        }
        return new Tool { Name = name, Description = description, InputSchema = JsonSerializer.SerializeToElement(schema) };
    }
}
