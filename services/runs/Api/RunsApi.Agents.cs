using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.Runs.Storage;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Security;
using Baton.ServiceDefaults.Validation;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Runs.Api;

public sealed partial class RunsApi
{
    public const string DefaultCliName = "claude-code";
    public const string DefaultAllowedTools = "Read,Edit,Write,Bash,Glob,Grep";
    public const int DefaultMaxTurns = 100;
    public const string DefaultRole = "builder";
    private static readonly string[] Roles = ["builder", "reviewer"];

    public override async Task<Agent> CreateAgent(CreateAgentRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.ProjectId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "project_id is required"));
        }
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "name is required"));
        }
        Input.Optional(request.ProjectId, "project_id", Limits.Id);
        await RequireProjectAsync(request.ProjectId, context.CancellationToken);
        var now = time.GetUtcNow();
        var agent = new AgentRow(
            Guid.NewGuid().ToString(), request.ProjectId, request.Name.Trim(),
            request.HasCliName ? request.CliName : DefaultCliName,
            request.HasModel ? request.Model : "",
            request.HasInstructions ? request.Instructions : "",
            request.HasAllowedTools ? request.AllowedTools : DefaultAllowedTools,
            request.HasMaxTurns ? request.MaxTurns : DefaultMaxTurns,
            ProviderConfigJson(request.ProviderConfig) ?? "{}",
            request.HasRole ? request.Role : DefaultRole,
            now, now);
        Validate(agent);
        await store.InsertAgentAsync(agent, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return ToProto(agent);
    }

    public override async Task<AgentList> ListAgents(ListAgentsRequest request, ServerCallContext context)
    {
        var list = new AgentList();
        list.Agents.AddRange((await store.ListAgentsAsync(null, context.CancellationToken)).Select(ToProto));
        return list;
    }

    public override async Task<AgentList> ListProjectAgents(ListProjectAgentsRequest request, ServerCallContext context)
    {
        await RequireProjectAsync(request.ProjectId, context.CancellationToken);
        var list = new AgentList();
        list.Agents.AddRange((await store.ListAgentsAsync(request.ProjectId, context.CancellationToken)).Select(ToProto));
        return list;
    }

    public override async Task<Agent> GetAgent(AgentIdRequest request, ServerCallContext context) =>
        ToProto(await RequireAgentAsync(request.Id, context.CancellationToken));

    public override async Task<Agent> UpdateAgent(UpdateAgentRequest request, ServerCallContext context)
    {
        var current = await RequireAgentAsync(request.Id, context.CancellationToken);
        if (request.HasName && string.IsNullOrWhiteSpace(request.Name))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "name must not be empty"));
        }
        var providerConfig = ProviderConfigJson(request.ProviderConfig) is { } incoming
            ? KeepMaskedSecrets(incoming, current.ProviderConfigJson)
            : current.ProviderConfigJson;
        var updated = current with
        {
            Name = request.HasName ? request.Name.Trim() : current.Name,
            CliName = request.HasCliName ? request.CliName : current.CliName,
            Model = request.HasModel ? request.Model : current.Model,
            Instructions = request.HasInstructions ? request.Instructions : current.Instructions,
            AllowedTools = request.HasAllowedTools ? request.AllowedTools : current.AllowedTools,
            MaxTurns = request.HasMaxTurns ? request.MaxTurns : current.MaxTurns,
            ProviderConfigJson = providerConfig,
            Role = request.HasRole ? request.Role : current.Role,
            UpdatedAt = time.GetUtcNow(),
        };
        Validate(updated);
        await store.UpdateAgentAsync(updated, context.CancellationToken);
        return ToProto(updated);
    }

    public override async Task<Empty> DeleteAgent(AgentIdRequest request, ServerCallContext context)
    {
        await RequireAgentAsync(request.Id, context.CancellationToken);
        await store.DeleteAgentAsync(request.Id, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    private async Task<AgentRow> RequireAgentAsync(string id, CancellationToken ct) =>
        await store.GetAgentAsync(id, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"agent {id} not found"));

    private void Validate(AgentRow agent)
    {
        Input.Require(agent.Name, "name", Limits.Name);
        Input.Optional(agent.CliName, "cli_name", Limits.Id);
        Input.Optional(agent.Model, "model", Limits.Id);
        Input.Text(agent.Instructions, "instructions");
        Input.Optional(agent.AllowedTools, "allowed_tools", Limits.Path);
        Input.CheckLength(agent.ProviderConfigJson, "provider_config", Limits.Text);
        if (adapters.Find(agent.CliName) is null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"cli_name must be one of {string.Join(", ", adapters.Names.Order())}"));
        }
        if (agent.MaxTurns <= 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "max_turns must be a positive integer"));
        }
        if (!Roles.Contains(agent.Role))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "role must be builder or reviewer"));
        }
        var config = ParseObject(agent.ProviderConfigJson);
        if (config["env"] is { } env && (env is not JsonObject envObject || envObject.Any(p => p.Value is not JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.String)))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "provider_config.env must be an object of strings"));
        }
        if (config["env"] is JsonObject values && values.Any(p => p.Value!.GetValue<string>() == Secrets.Mask))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"provider_config.env values must be real values, not the mask {Secrets.Mask}"));
        }
        if (agent.CliName == "custom" && config["command"] is not JsonValue)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "custom agents need provider_config.command"));
        }
    }

    private static string? ProviderConfigJson(Struct? config) => config is null ? null : JsonFormatter.Default.Format(config);

    /// <summary>An update that sends back the masked <c>env</c> values it read keeps the stored ones.</summary>
    private static string KeepMaskedSecrets(string incomingJson, string storedJson)
    {
        var incoming = ParseObject(incomingJson);
        if (incoming["env"] is JsonObject env)
        {
            incoming["env"] = Secrets.Merge(env, ParseObject(storedJson)["env"] as JsonObject, "provider_config.env");
        }
        return incoming.ToJsonString();
    }

    /// <summary>provider_config as clients see it: every <c>env</c> value is a credential as far as Baton knows, so all are masked.</summary>
    private static Struct MaskedProviderConfig(string json)
    {
        var config = ParseObject(json);
        if (config["env"] is JsonObject env)
        {
            config["env"] = Secrets.MaskValues(env);
        }
        return Struct.Parser.ParseJson(config.ToJsonString());
    }

    private static Agent ToProto(AgentRow agent) => new()
    {
        Id = agent.Id,
        ProjectId = agent.ProjectId,
        Name = agent.Name,
        CliName = agent.CliName,
        Model = agent.Model,
        Instructions = agent.Instructions,
        AllowedTools = agent.AllowedTools,
        MaxTurns = agent.MaxTurns,
        ProviderConfig = MaskedProviderConfig(agent.ProviderConfigJson),
        Role = agent.Role,
        CreatedAt = Timestamp.FromDateTimeOffset(agent.CreatedAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(agent.UpdatedAt),
    };
}
