using System.CommandLine;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Flows;

/// <summary><c>baton flows [export|import]</c>: the flow configuration as YAML (000_* flows), on the generated FlowsService client.</summary>
public static class FlowsCommands
{
    public static Command Create()
    {
        var command = new Command("flows", "Flow triggers and their activities, as YAML");
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Import());
        return command;
    }

    private static Command Export()
    {
        var file = new Option<string?>("--file", "-f") { Description = "Write to this file instead of standard output" };
        var command = new Command("export", "Print the flow configuration as YAML") { file };
        command.SetHandler(async context =>
        {
            var yaml = await context.Baton.Flows.ExportFlowConfigAsync(new Empty(), cancellationToken: context.Cancellation);
            if (context.Get(file) is { } path)
            {
                await File.WriteAllBytesAsync(path, yaml.Data.ToByteArray(), context.Cancellation);
                await Console.Error.WriteLineAsync($"wrote {path}");
                return ExitCodes.Ok;
            }
            using var stdout = Console.OpenStandardOutput();
            yaml.Data.WriteTo(stdout);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Import()
    {
        var file = new Argument<string>("file") { Description = "A YAML file from 'baton flows export' ('-' reads standard input)" };
        var command = new Command("import", "Replace the flow configuration with a YAML file") { file };
        command.SetHandler(async context =>
        {
            var path = context.Get(file);
            byte[] yaml;
            if (path == "-")
            {
                using var stdin = Console.OpenStandardInput();
                using var buffer = new MemoryStream();
                await stdin.CopyToAsync(buffer, context.Cancellation);
                yaml = buffer.ToArray();
            }
            else if (!File.Exists(path))
            {
                throw CliException.NotFound($"no file '{path}'");
            }
            else
            {
                yaml = await File.ReadAllBytesAsync(path, context.Cancellation);
            }
            var result = await context.Baton.Flows.ImportFlowConfigAsync(new HttpBody { ContentType = "application/yaml", Data = ByteString.CopyFrom(yaml) },
                cancellationToken: context.Cancellation);
            JsonNode? json = null;
            try
            {
                json = JsonNode.Parse(result.Data.ToStringUtf8());
            }
            catch (System.Text.Json.JsonException)
            {
            }
            var triggers = json?["triggers"] is JsonArray t ? t.Count : (int?)null;
            context.Output.Done(triggers is null ? "imported the flow configuration" : $"imported the flow configuration: {triggers} triggers", json);
            return ExitCodes.Ok;
        });
        return command;
    }
}
