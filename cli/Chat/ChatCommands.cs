using System.CommandLine;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Chat.V1;

namespace Baton.Cli.Chat;

/// <summary><c>baton chat [ls|new|open &lt;id&gt;]</c>: the interactive agent chat of the chat service (001_*), on its gRPC <c>Converse</c> stream.</summary>
public static class ChatCommands
{
    public static Command Create()
    {
        var command = new Command("chat", "Talk to an agent that works in a workspace: streamed answers, tool calls you approve with a key");
        var list = new Command("ls", "List chats");
        list.Aliases.Add("list");
        list.SetHandler(ListAsync);
        command.Subcommands.Add(list);
        command.Subcommands.Add(New());
        command.Subcommands.Add(Open());
        command.SetHandler(ListAsync);
        return command;
    }

    private static async Task<int> ListAsync(CliContext context)
    {
        var chats = await context.Baton.Chat.ListChatsAsync(new ListChatsRequest(), cancellationToken: context.Cancellation);
        context.Output.List(chats.Chats, ["ID", "STATUS", "PROFILE", "WORKSPACE", "CREATED"], c => [c.ChatId, c.Status, c.Profile, c.Workspace, c.CreatedAt]);
        return ExitCodes.Ok;
    }

    private static Command New()
    {
        var profile = new Option<string?>("--profile", "-p") { Description = "The model profile (default: the default profile)" };
        var workspace = new Option<string?>("--workspace", "-w") { Description = "The folder the agent works in (under BATON_REPO_ROOTS; default: a fresh folder)" };
        var command = new Command("new", "Start a chat and talk to it") { profile, workspace };
        command.SetHandler(async context =>
        {
            var folder = context.Get(workspace) is { } w ? Path.GetFullPath(w) : "";
            var created = await context.Baton.Chat.CreateChatAsync(new CreateChatRequest { Profile = context.Get(profile) ?? "", Workspace = folder }, cancellationToken: context.Cancellation);
            if (context.Output.IsJson)
            {
                context.Output.Json(Output.ToJson(created));
                return ExitCodes.Ok;
            }
            return await new ChatConsole(context, created.ChatId, 0).RunAsync();
        });
        return command;
    }

    private static Command Open()
    {
        var id = new Argument<string>("chat") { Description = "The chat's id (see 'baton chat ls')" };
        var command = new Command("open", "Continue a chat: its transcript, then talk") { id };
        command.SetHandler(async context =>
        {
            var transcript = await context.Baton.Chat.GetChatAsync(new ChatRef { ChatId = context.Get(id) }, cancellationToken: context.Cancellation);
            ChatConsole.PrintTranscript(transcript);
            return await new ChatConsole(context, transcript.ChatId, transcript.LastEventId).RunAsync();
        });
        return command;
    }
}
