using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Runs.V1;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Agents;

/// <summary><c>baton agents [ls|create|show|rm]</c>.</summary>
public static class AgentsCommands
{
    public static Command Create()
    {
        var command = new Command("agents", "List and manage agents (a coding-agent CLI with its settings, in a project)");
        var list = List();
        command.Subcommands.Add(list);
        command.Subcommands.Add(CreateAgent());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Remove());
        command.SetHandler(context => ListAsync(context, null));
        return command;
    }

    private static Command List()
    {
        var project = new Option<string?>("--project", "-p") { Description = "Only this project's agents (id or name)" };
        var command = new Command("ls", "List agents") { project };
        command.Aliases.Add("list");
        command.SetHandler(context => ListAsync(context, context.Get(project)));
        return command;
    }

    private static async Task<int> ListAsync(CliContext context, string? project)
    {
        AgentList agents;
        if (project is null)
        {
            agents = await context.Baton.Runs.ListAgentsAsync(new ListAgentsRequest(), cancellationToken: context.Cancellation);
        }
        else
        {
            var found = await Lookup.ProjectAsync(context, project);
            agents = await context.Baton.Runs.ListProjectAgentsAsync(new ListProjectAgentsRequest { ProjectId = found.Id }, cancellationToken: context.Cancellation);
        }
        context.Output.List(agents.Agents, ["ID", "NAME", "CLI", "MODEL", "ROLE", "PROJECT"],
            a => [a.Id, a.Name, a.CliName, a.Model, a.Role, a.ProjectId]);
        return ExitCodes.Ok;
    }

    private static Command CreateAgent()
    {
        var project = new Option<string>("--project", "-p") { Description = "The project (id or name)", Required = true };
        var name = new Option<string>("--name", "-n") { Description = "The agent's name", Required = true };
        var cli = new Option<string?>("--cli") { Description = "claude-code (default), codex, or custom" };
        var model = new Option<string?>("--model") { Description = "Model name passed to the CLI" };
        var instructions = new Option<string?>("--instructions") { Description = "System instructions" };
        var tools = new Option<string?>("--allowed-tools") { Description = "Comma-separated tools (default Read,Edit,Write,Bash,Glob,Grep)" };
        var turns = new Option<int?>("--max-turns") { Description = "Turn limit (default 100)" };
        var role = new Option<string?>("--role") { Description = "Role (default builder)" };
        var shell = new Option<string?>("--command") { Description = "The command a custom agent runs (provider_config.command)" };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE added to the CLI's environment (repeatable)" };
        var command = new Command("create", "Create an agent") { project, name, cli, model, instructions, tools, turns, role, shell, env };
        command.SetHandler(async context =>
        {
            var found = await Lookup.ProjectAsync(context, context.Get(project));
            var request = new CreateAgentRequest { ProjectId = found.Id, Name = context.Get(name) };
            if (context.Get(cli) is { } c)
            {
                request.CliName = c;
            }
            if (context.Get(model) is { } m)
            {
                request.Model = m;
            }
            if (context.Get(instructions) is { } i)
            {
                request.Instructions = i;
            }
            if (context.Get(tools) is { } t)
            {
                request.AllowedTools = t;
            }
            if (context.Get(turns) is { } n)
            {
                request.MaxTurns = n;
            }
            if (context.Get(role) is { } r)
            {
                request.Role = r;
            }
            request.ProviderConfig = ProviderConfig(context.Get(shell), context.Get(env) ?? []);
            var agent = await context.Baton.Runs.CreateAgentAsync(request, cancellationToken: context.Cancellation);
            context.Output.Done($"created agent {agent.Name} ({agent.Id}), {agent.CliName}", Output.ToJson(agent));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Struct ProviderConfig(string? command, string[] env)
    {
        var config = new Struct();
        if (command is not null)
        {
            config.Fields["command"] = Value.ForString(command);
        }
        if (env.Length > 0)
        {
            var variables = new Struct();
            foreach (var pair in env)
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw CliException.Usage($"--env '{pair}' is not KEY=VALUE");
                }
                variables.Fields[pair[..equals]] = Value.ForString(pair[(equals + 1)..]);
            }
            config.Fields["env"] = Value.ForStruct(variables);
        }
        return config;
    }

    private static Command Show()
    {
        var agent = new Argument<string>("agent") { Description = "Agent id or name" };
        var command = new Command("show", "Show an agent") { agent };
        command.SetHandler(async context =>
        {
            var a = await Lookup.AgentAsync(context, context.Get(agent));
            context.Output.Object(a, ("id", a.Id), ("name", a.Name), ("project", a.ProjectId), ("cli", a.CliName), ("model", a.Model),
                ("role", a.Role), ("allowed tools", a.AllowedTools), ("max turns", a.MaxTurns.ToString(CultureInfo.InvariantCulture)),
                ("instructions", a.Instructions), ("provider config", a.ProviderConfig?.ToString()), ("created", Output.Time(a.CreatedAt)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var agent = new Argument<string>("agent") { Description = "Agent id or name" };
        var command = new Command("rm", "Delete an agent") { agent };
        command.Aliases.Add("delete");
        command.SetHandler(async context =>
        {
            var a = await Lookup.AgentAsync(context, context.Get(agent));
            await context.Baton.Runs.DeleteAgentAsync(new AgentIdRequest { Id = a.Id }, cancellationToken: context.Cancellation);
            context.Output.Done($"deleted agent {a.Name} ({a.Id})", new JsonObject { ["deleted"] = a.Id });
            return ExitCodes.Ok;
        });
        return command;
    }
}
