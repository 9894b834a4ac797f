using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Integrations.V1;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Integrations;

/// <summary><c>baton integrations [ls|ops|connect|invoke]</c>: the integrations of integrations.yaml (002_*).</summary>
public static class IntegrationsCommands
{
    private static readonly Argument<string> NameArgument = new("integration") { Description = "The integration's name (see 'baton integrations ls')" };
    private static readonly TimeSpan ConnectWait = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ConnectPoll = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var command = new Command("integrations", "Third-party APIs Baton calls for you: list, connect, invoke");
        var list = new Command("ls", "List integrations and whether you are connected");
        list.Aliases.Add("list");
        list.SetHandler(ListAsync);
        command.Subcommands.Add(list);
        command.Subcommands.Add(Operations());
        command.Subcommands.Add(Connect());
        command.Subcommands.Add(Invoke());
        command.SetHandler(ListAsync);
        return command;
    }

    private static async Task<int> ListAsync(CliContext context)
    {
        var list = await context.Baton.Integrations.ListIntegrationsAsync(new Empty(), cancellationToken: context.Cancellation);
        context.Output.List(list.Integrations, ["NAME", "CONNECTED", "AUTH", "DESCRIPTION"],
            i => [i.Name, i.Connected ? "yes" : "no", string.Join(",", i.AuthTypes), i.Description]);
        return ExitCodes.Ok;
    }

    private static Command Operations()
    {
        var command = new Command("ops", "List an integration's operations and their parameters") { NameArgument };
        command.Aliases.Add("operations");
        command.SetHandler(async context =>
        {
            var ops = await context.Baton.Integrations.ListOperationsAsync(new ListOperationsRequest { Name = context.Get(NameArgument) }, cancellationToken: context.Cancellation);
            context.Output.List(ops.Operations, ["OPERATION", "METHOD", "PARAMETERS", "DESCRIPTION"],
                o => [o.Id, o.Method, string.Join(" ", o.Parameters.Select(p => p.Required ? p.Name + "*" : p.Name)), o.Description]);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Connect()
    {
        var instance = new Option<string?>("--instance") { Description = "A name for this connection (several accounts of one integration)" };
        var connection = new Option<string?>("--connection") { Description = "Which of the integration's connections" };
        var credential = new Option<string[]>("--credential", "-c") { Description = "A manual credential: VALUE, or FIELD=VALUE for integrations with several fields" };
        var param = new Option<string[]>("--param") { Description = "A connection parameter KEY=VALUE" };
        var noWait = new Option<bool>("--no-wait") { Description = "OAuth: print and open the URL, do not wait for the browser to finish" };
        var command = new Command("connect", "Connect your account: opens the OAuth page, or stores --credential values") { NameArgument, instance, connection, credential, param, noWait };
        command.SetHandler(async context =>
        {
            var name = context.Get(NameArgument);
            var parameters = Pairs(context.Get(param), "--param");
            var credentials = context.Get(credential) ?? [];
            if (credentials.Length > 0)
            {
                var request = new ConnectManualRequest { Integration = name, Instance = context.Get(instance) ?? "", Connection = context.Get(connection) ?? "" };
                request.ConnectionParams.Add(parameters);
                if (credentials.Length == 1 && !credentials[0].Contains('=', StringComparison.Ordinal))
                {
                    request.Credential = credentials[0];
                }
                else
                {
                    request.Credentials.Add(Pairs(credentials, "--credential"));
                }
                var result = await context.Baton.Integrations.ConnectManualAsync(request, cancellationToken: context.Cancellation);
                if (result.Status == "selection_required")
                {
                    Browser.Open(result.SelectionUrl, $"{name} needs you to choose an account");
                }
                context.Output.Done(result.Status == "connected" ? $"connected {name}" : $"{name}: {result.Status}", Output.ToJson(result));
                return ExitCodes.Ok;
            }
            var start = new StartOAuthRequest { Integration = name, Instance = context.Get(instance) ?? "", Connection = context.Get(connection) ?? "" };
            start.ConnectionParams.Add(parameters);
            var oauth = await context.Baton.Integrations.StartOAuthAsync(start, cancellationToken: context.Cancellation);
            Browser.Open(oauth.Url, $"To connect {name}");
            if (context.Get(noWait))
            {
                context.Output.Done("", Output.ToJson(oauth));
                return ExitCodes.Ok;
            }
            await Console.Error.WriteLineAsync("waiting for the browser to finish (Ctrl+C stops waiting)…");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
            timeout.CancelAfter(ConnectWait);
            using var poll = new PeriodicTimer(ConnectPoll);
            try
            {
                while (await poll.WaitForNextTickAsync(timeout.Token))
                {
                    var list = await context.Baton.Integrations.ListIntegrationsAsync(new Empty(), cancellationToken: timeout.Token);
                    if (list.Integrations.FirstOrDefault(i => i.Name == name) is { Connected: true } connected)
                    {
                        context.Output.Done($"connected {name}", Output.ToJson(connected));
                        return ExitCodes.Ok;
                    }
                }
            }
            catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested)
            {
            }
            throw new CliException(ExitCodes.Error, $"{name} was not connected within {ConnectWait.TotalMinutes:0} minutes; run 'baton integrations connect {name}' again");
        });
        return command;
    }

    private static Command Invoke()
    {
        var operation = new Argument<string>("operation") { Description = "The operation (see 'baton integrations ops <integration>')" };
        var values = new Argument<string[]>("parameters") { Description = "KEY=VALUE parameters (a VALUE that is JSON, like 5 or [\"a\"], is sent as JSON)", Arity = ArgumentArity.ZeroOrMore };
        var data = new Option<string?>("--data", "-d") { Description = "All parameters as one JSON object ('-' reads standard input)" };
        var instance = new Option<string?>("--instance") { Description = "Which connection instance to use" };
        var command = new Command("invoke", "Call an operation with your stored credentials; prints the upstream's answer") { NameArgument, operation, values, data, instance };
        command.SetHandler(async context =>
        {
            var body = new JsonObject();
            if (context.Get(data) is { } json)
            {
                if (json == "-")
                {
                    json = await Console.In.ReadToEndAsync(context.Cancellation);
                }
                try
                {
                    body = JsonNode.Parse(json) as JsonObject ?? throw CliException.Usage("--data must be a JSON object");
                }
                catch (JsonException ex)
                {
                    throw CliException.Usage($"--data is not JSON ({ErrorTranslation.OneLine(ex.Message)})");
                }
            }
            foreach (var (key, value) in Pairs(context.Get(values), "parameter"))
            {
                body[key] = ParseValue(value);
            }
            if (context.Get(instance) is { } i)
            {
                body["_instance"] = i;
            }
            // REST rather than the Invoke RPC: only HTTP carries the upstream's own status and content type through.
            var path = $"/api/v1/{Uri.EscapeDataString(context.Get(NameArgument))}/{Uri.EscapeDataString(context.Get(operation))}";
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await context.Baton.Http.PostAsync(path, content, context.Cancellation);
            var text = await response.Content.ReadAsStringAsync(context.Cancellation);
            if (!response.IsSuccessStatusCode)
            {
                throw ErrorTranslation.FromHttpStatus((int)response.StatusCode, text, path);
            }
            Console.Out.Write(text);
            if (text.Length > 0 && !text.EndsWith('\n'))
            {
                Console.Out.WriteLine();
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static JsonNode? ParseValue(string value)
    {
        try
        {
            return JsonNode.Parse(value);
        }
        catch (JsonException)
        {
            return JsonValue.Create(value);
        }
    }

    private static Dictionary<string, string> Pairs(string[]? items, string what)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in items ?? [])
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw CliException.Usage($"{what} '{item}' is not KEY=VALUE");
            }
            pairs[item[..equals]] = item[(equals + 1)..];
        }
        return pairs;
    }
}
