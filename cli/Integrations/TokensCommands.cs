using System.CommandLine;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Integrations.V1;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Integrations;

/// <summary><c>baton tokens [ls|create|revoke]</c>: <c>gst_api_</c> API tokens (002_*), on the generated integrations client.</summary>
public static class TokensCommands
{
    public static Command Create()
    {
        var command = new Command("tokens", "API tokens (gst_api_…) for scripts, CI and other machines");
        var list = new Command("ls", "List your API tokens (never their values)");
        list.Aliases.Add("list");
        list.SetHandler(ListAsync);
        command.Subcommands.Add(list);
        command.Subcommands.Add(CreateToken());
        command.Subcommands.Add(Revoke());
        command.SetHandler(ListAsync);
        return command;
    }

    private static async Task<int> ListAsync(CliContext context)
    {
        var tokens = await context.Baton.Integrations.ListTokensAsync(new Empty(), cancellationToken: context.Cancellation);
        context.Output.List(tokens.Tokens, ["ID", "NAME", "SCOPES", "CREATED", "EXPIRES"],
            t => [t.Id, t.Name, t.Scopes.Length == 0 ? "(all)" : t.Scopes, Output.Time(t.CreatedAt), Output.Time(t.ExpiresAt)]);
        return ExitCodes.Ok;
    }

    private static Command CreateToken()
    {
        var name = new Option<string>("--name", "-n") { Description = "What the token is for", Required = true };
        var scopes = new Option<string[]>("--scope") { Description = "Limit the token to an integration (repeat for more; default: all)", AllowMultipleArgumentsPerToken = false };
        var ttl = new Option<TimeSpan?>("--ttl") { Description = "Lifetime, e.g. 30.00:00:00 for 30 days (default and maximum: the server's api_token_ttl)" };
        var command = new Command("create", "Create an API token; its value is printed once, here") { name, scopes, ttl };
        command.SetHandler(async context =>
        {
            var lifetime = context.Get(ttl);
            if (lifetime is { } t && t <= TimeSpan.Zero)
            {
                throw CliException.Usage("--ttl must be positive");
            }
            var created = await context.Baton.Integrations.CreateTokenAsync(new CreateTokenRequest
            {
                Name = context.Get(name),
                Scopes = string.Join(' ', context.Get(scopes) ?? []),
                TtlSeconds = (long)(lifetime?.TotalSeconds ?? 0),
            }, cancellationToken: context.Cancellation);
            if (context.Output.IsJson)
            {
                context.Output.Json(Output.ToJson(created));
                return ExitCodes.Ok;
            }
            // The value alone on stdout, so `TOKEN=$(baton tokens create -n ci)` works; the rest goes to stderr.
            Console.Out.WriteLine(created.Token);
            await Console.Error.WriteLineAsync($"created token {created.Id} '{created.Name}', expires {Output.Time(created.ExpiresAt)}; it is not shown again");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Revoke()
    {
        var id = new Argument<string?>("id") { Description = "The token's id (see 'baton tokens ls')", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Revoke every token of yours" };
        var command = new Command("revoke", "Revoke a token (or --all)") { id, all };
        command.SetHandler(async context =>
        {
            var tokenId = context.Get(id);
            if (context.Get(all) == (tokenId is not null))
            {
                throw CliException.Usage("give a token id or --all (not both)");
            }
            var reply = tokenId is null
                ? await context.Baton.Integrations.RevokeAllTokensAsync(new Empty(), cancellationToken: context.Cancellation)
                : await context.Baton.Integrations.RevokeTokenAsync(new RevokeTokenRequest { Id = tokenId }, cancellationToken: context.Cancellation);
            context.Output.Done(tokenId is null ? $"revoked {reply.Count} tokens" : $"revoked token {tokenId}", Output.ToJson(reply));
            return ExitCodes.Ok;
        });
        return command;
    }
}
