using System.CommandLine;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Auth;

/// <summary><c>baton login</c> and <c>baton logout</c>: the saved credentials every other command uses.</summary>
public static class LoginCommands
{
    public static Command Login()
    {
        var command = new Command("login", "Log in: through the browser when Baton has single sign-on, else with --token; saved in $XDG_CONFIG_HOME/baton/credentials.json (mode 0600)");
        command.SetHandler(LoginAsync);
        return command;
    }

    public static Command Logout()
    {
        var command = new Command("logout", "Forget the saved credentials");
        command.SetHandler(LogoutAsync);
        return command;
    }

    private static async Task<int> LoginAsync(CliContext context)
    {
        var token = context.Parse.GetValue(GlobalOptions.Token);
        var connection = context.Connection;
        string? tokenId = null;
        if (string.IsNullOrEmpty(token))
        {
            (token, tokenId) = await BrowserLogin.RunAsync(context);
        }
        else
        {
            // Check the token before saving it: a typo should fail here, not in the next command.
            _ = await context.Baton.Status.GetStatusAsync(new Empty(), cancellationToken: context.Cancellation);
        }
        var saved = new Infrastructure.SavedCredentials(connection.Url.ToString().TrimEnd('/'), connection.GrpcUrl.ToString().TrimEnd('/'), token, tokenId);
        context.Credentials.Save(saved);
        context.Output.Done($"logged in to {saved.Url} (saved in {context.Credentials.Path})",
            new JsonObject { ["url"] = saved.Url, ["grpc_url"] = saved.GrpcUrl, ["credentials"] = context.Credentials.Path });
        return ExitCodes.Ok;
    }

    private static async Task<int> LogoutAsync(CliContext context)
    {
        var saved = context.Credentials.Load();
        var revoked = false;
        if (saved is { TokenId.Length: > 0, Token.Length: > 0 })
        {
            // The browser login created this token for the CLI: revoke it rather than leave a valid token nobody has any more.
            revoked = await BrowserLogin.TryRevokeAsync(context, saved);
        }
        var removed = context.Credentials.Delete();
        context.Output.Done(removed ? $"logged out (removed {context.Credentials.Path}{(revoked ? ", revoked the CLI's token" : "")})" : "not logged in",
            new JsonObject { ["removed"] = removed, ["revoked"] = revoked, ["credentials"] = context.Credentials.Path });
        return ExitCodes.Ok;
    }
}
