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
        var command = new Command("login", "Save the URL and token the other commands use ($XDG_CONFIG_HOME/baton/credentials.json, mode 0600)");
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
        if (string.IsNullOrEmpty(token))
        {
            throw CliException.Usage("give the token to save: 'baton login --token <token>' (the admin token BATON_TOKEN, or a gst_api_ token)");
        }
        // Check the token before saving it: a typo should fail here, not in the next command.
        _ = await context.Baton.Status.GetStatusAsync(new Empty(), cancellationToken: context.Cancellation);
        var saved = new Infrastructure.SavedCredentials(connection.Url.ToString().TrimEnd('/'), connection.GrpcUrl.ToString().TrimEnd('/'), token);
        context.Credentials.Save(saved);
        context.Output.Done($"logged in to {saved.Url} (saved in {context.Credentials.Path})",
            new JsonObject { ["url"] = saved.Url, ["grpc_url"] = saved.GrpcUrl, ["credentials"] = context.Credentials.Path });
        return ExitCodes.Ok;
    }

    private static Task<int> LogoutAsync(CliContext context)
    {
        var removed = context.Credentials.Delete();
        context.Output.Done(removed ? $"logged out (removed {context.Credentials.Path})" : "not logged in",
            new JsonObject { ["removed"] = removed, ["credentials"] = context.Credentials.Path });
        return Task.FromResult(ExitCodes.Ok);
    }
}
