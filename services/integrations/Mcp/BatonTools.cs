using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;
using Baton.Integrations.Api;
using Baton.Integrations.Security;
using Baton.ServiceDefaults.Security;
using Google.Api;
using Google.Protobuf;
using Grpc.Core;
using ModelContextProtocol.Protocol;

namespace Baton.Integrations.Mcp;

/// <summary>
/// Baton's own MCP tools, so an MCP client can drive Baton itself: list projects and runs, start
/// a run, read a run's events and its changes, list agent sessions, read their terminal and type
/// into it. They call the runs and git services through their generated gRPC clients, on behalf of
/// the caller.
/// </summary>
public sealed class BatonTools(RunsService.RunsServiceClient runs, GitRestService.GitRestServiceClient git, SessionsService.SessionsServiceClient sessions)
{
    /// <summary>What one tool call may type into a terminal: a prompt, not a file transfer.</summary>
    public const int MaxSessionInputChars = 64 * 1024;

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
        Define("baton_list_sessions", "List agent sessions (interactive agent CLIs in a terminal): id, title, status, runner, command.", new JsonObject()),
        Define("baton_get_session_output", "Read the recent terminal output of an agent session, as lines of text.",
            new JsonObject { ["session_id"] = Prop("string", "The session.") }, "session_id"),
        Define("baton_send_session_input", "Type text into an agent session's terminal, then press Enter unless enter is false.",
            new JsonObject
            {
                ["session_id"] = Prop("string", "The session."),
                ["text"] = Prop("string", "What to type."),
                ["enter"] = Prop("boolean", "Press Enter after the text (default true)."),
            }, "session_id", "text"),
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
                "baton_list_sessions" => await sessions.ListSessionsAsync(new ListSessionsRequest(), options),
                "baton_get_session_output" => await sessions.GetSessionOutputAsync(new SessionIdRequest { Id = Required(arguments, "session_id") }, options),
                "baton_send_session_input" => await sessions.SendSessionInputAsync(new SessionInputRequest
                {
                    Id = Required(arguments, "session_id"),
                    Body = new HttpBody { ContentType = "application/octet-stream", Data = ByteString.CopyFromUtf8(SessionInput(arguments)) },
                }, options),
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
                StatusCode.ResourceExhausted => 413,
                StatusCode.FailedPrecondition or StatusCode.Aborted or StatusCode.AlreadyExists => 409,
                _ => 502,
            }, ex.Status.Detail);
        }
    }

    /// <summary>The keystrokes: the text as typed, then carriage return (the Enter key in a terminal) unless told otherwise.</summary>
    private static string SessionInput(IReadOnlyDictionary<string, JsonNode?> arguments)
    {
        var text = Required(arguments, "text");
        if (text.Length > MaxSessionInputChars)
        {
            throw IntegrationException.BadRequest($"text is longer than {MaxSessionInputChars} characters");
        }
        var enter = !arguments.TryGetValue("enter", out var node) || node is null
            || (node is JsonValue value && value.TryGetValue<bool>(out var flag)
                ? flag
                : throw IntegrationException.BadRequest("enter must be a boolean"));
        return enter ? text + "\r" : text;
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
