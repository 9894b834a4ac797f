using System.Text.Json;
using Baton.Chat.Agent;
using Baton.Chat.Permissions;
using Baton.Chat.Profiles;
using Baton.Chat.Sandbox;
using Baton.Chat.Storage;
using Baton.Chat.Tools;
using Baton.Contracts.Chat.V1;
using Baton.Contracts.Common.V1;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.AI;

namespace Baton.Chat.Api;

/// <summary>The chat service's boundary (001_*): proto ⇄ domain, errors as RpcException.</summary>
public sealed class ChatApi(
    BatonOptions baton, ChatOptions options, ChatStore store, ChatEvents events, ChatSessions sessions, ProfileService profiles,
    ChatClientFactory clients, Compactor compactor, PermissionStore permissions, SandboxConfigStore sandbox, ToolRegistry tools,
    TimeProvider time, ILogger<ChatApi> logger) : ChatService.ChatServiceBase
{
    /// <summary>Response header sent once the chat exists and its stream is open (the gateway's cue to go live).</summary>
    public const string StreamOpenHeader = "baton-stream";

    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context)
    {
        var status = StatusReporter.Describe(baton);
        status.Counters["chats_running"] = sessions.Running;
        return Task.FromResult(status);
    }

    public override async Task<ChatCreated> CreateChat(CreateChatRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var profile = Check.Optional(request.Profile, "profile", Check.Name);
        if (profile is not null)
        {
            await profiles.RequireAsync(profile, ct);
        }
        var id = Guid.NewGuid().ToString();
        var workspace = Check.Optional(request.Workspace, "workspace", 4096);
        var owns = workspace is null;
        if (workspace is null)
        {
            workspace = Path.Combine(options.WorkspacesDir, id);
            Directory.CreateDirectory(workspace);
            workspace = WorkspacePaths.Canonicalize(workspace);
        }
        else
        {
            if (!Path.IsPathFullyQualified(workspace))
            {
                throw Check.Invalid($"workspace must be an absolute path: {Check.Quote(workspace)}");
            }
            workspace = WorkspacePaths.Canonicalize(workspace);
            if (options.RepoRoots.Count > 0 && !options.RepoRoots.Any(root => WorkspacePaths.IsUnder(workspace, root)))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"workspace {Check.Quote(workspace)} is outside the allowed roots (BATON_REPO_ROOTS)"));
            }
            if (!Directory.Exists(workspace))
            {
                throw Check.Invalid($"workspace {Check.Quote(workspace)} is not an existing directory");
            }
        }
        await store.InsertChatAsync(new ChatRecord(id, workspace, owns, profile, time.GetUtcNow(), 0, null), ct);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return new ChatCreated { ChatId = id };
    }

    public override async Task<ChatList> ListChats(ListChatsRequest request, ServerCallContext context)
    {
        var list = new ChatList();
        foreach (var chat in await store.ListChatsAsync(context.CancellationToken))
        {
            list.Chats.Add(new ChatSummary
            {
                ChatId = chat.Id,
                Workspace = chat.Workspace,
                Profile = chat.ProfileName ?? "",
                CreatedAt = chat.CreatedAt.UtcDateTime.ToString("O"),
                Status = sessions.Find(chat.Id)?.IsRunning == true ? "running" : "idle",
            });
        }
        return list;
    }

    public override async Task<ChatTranscript> GetChat(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        var transcript = new ChatTranscript
        {
            ChatId = chat.Id,
            Workspace = chat.Workspace,
            Summary = chat.Summary ?? "",
            Turns = new ListValue(),
            LastEventId = await events.LastIdAsync(chat.Id, context.CancellationToken),
        };
        foreach (var stored in await store.ActiveMessagesAsync(chat.Id, context.CancellationToken))
        {
            transcript.Turns.Values.Add(Transcript.Turn(stored));
        }
        return transcript;
    }

    public override async Task<Deleted> DeleteChat(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        await sessions.RemoveAsync(chat.Id);
        await store.DeleteChatAsync(chat.Id, CancellationToken.None);
        await events.DeleteAsync(chat.Id, CancellationToken.None);
        if (chat.OwnsWorkspace && WorkspacePaths.IsUnder(chat.Workspace, WorkspacePaths.Canonicalize(options.WorkspacesDir)))
        {
            try
            {
                Directory.Delete(chat.Workspace, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning("Could not remove the workspace of deleted chat {ChatId}: {Error}", chat.Id, ex.Message);
            }
        }
        return new Deleted { Deleted_ = true };
    }

    public override async Task<ContextUsage> GetContext(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        var profile = await profiles.ResolveAsync(chat.ProfileName, context.CancellationToken)
            ?? throw Check.Invalid("the chat has no model profile, so it has no context window; create a profile first");
        var current = chat.CurrentTokens > 0
            ? chat.CurrentTokens
            : compactor.EstimateContext(chat, await store.ActiveMessagesAsync(chat.Id, context.CancellationToken));
        return new ContextUsage { CurrentTokens = current, ContextWindow = profile.EffectiveContextWindow, CompactionThreshold = options.CompactionThreshold };
    }

    public override async Task<CompactionResult> CompactChat(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        var profile = await profiles.ResolveAsync(chat.ProfileName, context.CancellationToken)
            ?? throw Check.Invalid("the chat has no model profile to summarise with; create a profile first");
        var session = sessions.Get(chat.Id);
        // A turn that has sent its last event is let finish; one still running is a conflict.
        if (!await session.Busy.WaitAsync(0, context.CancellationToken)
            && !(session.Finishing && await session.Busy.WaitAsync(TimeSpan.FromSeconds(30), context.CancellationToken)))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "a turn is running in this chat; compact after it completes"));
        }
        try
        {
            var outcome = await compactor.CompactAsync(chat, profile, clients.For(profile), null, context.CancellationToken);
            return new CompactionResult { TokensBefore = outcome.TokensBefore, TokensAfter = outcome.TokensAfter, TurnsRemoved = outcome.TurnsRemoved };
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or System.ClientModel.ClientResultException or Anthropic.Exceptions.AnthropicException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the model could not summarise the conversation: " + ex.Message));
        }
        finally
        {
            session.Busy.Release();
        }
    }

    public override async Task<Cancelled> CancelChat(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        return new Cancelled { Cancelled_ = sessions.Find(chat.Id)?.Cancel() == true };
    }

    public override async Task<ChatProfile> GetChatProfile(ChatRef request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        return new ChatProfile { ChatId = chat.Id, ProfileName = chat.ProfileName ?? await profiles.DefaultNameAsync(context.CancellationToken) };
    }

    public override async Task<ChatProfile> SetChatProfile(SetChatProfileRequest request, ServerCallContext context)
    {
        var chat = await RequireChatAsync(request.ChatId, context.CancellationToken);
        var name = string.IsNullOrEmpty(request.ProfileName) ? request.Name : request.ProfileName;
        var profile = await profiles.RequireAsync(Check.Require(name, "profile_name", Check.Name), context.CancellationToken);
        await store.SetChatProfileAsync(chat.Id, profile.Name, context.CancellationToken);
        return new ChatProfile { ChatId = chat.Id, ProfileName = profile.Name };
    }

    public override async Task<ProfileList> ListProfiles(ListProfilesRequest request, ServerCallContext context)
    {
        var list = new ProfileList { Default = await profiles.DefaultNameAsync(context.CancellationToken) };
        foreach (var profile in await store.ListProfilesAsync(context.CancellationToken))
        {
            list.Profiles[profile.Name] = ProfileService.ToMessage(profile);
        }
        return list;
    }

    public override async Task<NamedProfile> CreateProfile(NamedProfile request, ServerCallContext context)
    {
        var stored = await profiles.CreateAsync(request.Name, request.Profile, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return new NamedProfile { Name = stored.Name, Profile = ProfileService.ToMessage(stored) };
    }

    public override async Task<NamedProfile> GetProfile(ProfileRef request, ServerCallContext context)
    {
        var stored = await profiles.RequireAsync(request.Name, context.CancellationToken);
        return new NamedProfile { Name = stored.Name, Profile = ProfileService.ToMessage(stored) };
    }

    public override async Task<NamedProfile> UpdateProfile(UpdateProfileRequest request, ServerCallContext context)
    {
        var stored = await profiles.UpdateAsync(request.Name, request.Profile, context.CancellationToken);
        return new NamedProfile { Name = stored.Name, Profile = ProfileService.ToMessage(stored) };
    }

    public override async Task<Deleted> DeleteProfile(ProfileRef request, ServerCallContext context)
    {
        await profiles.DeleteAsync(request.Name, context.CancellationToken);
        return new Deleted { Deleted_ = true };
    }

    public override async Task<DefaultProfile> GetDefaultProfile(GetDefaultProfileRequest request, ServerCallContext context)
    {
        var name = await profiles.DefaultNameAsync(context.CancellationToken);
        return new DefaultProfile { ProfileName = name, Default = name };
    }

    public override async Task<DefaultProfile> SetDefaultProfile(SetDefaultProfileRequest request, ServerCallContext context)
    {
        var name = Check.Require(string.IsNullOrEmpty(request.ProfileName) ? request.Name : request.ProfileName, "profile_name", Check.Name);
        await profiles.SetDefaultAsync(name, context.CancellationToken);
        return new DefaultProfile { ProfileName = name, Default = name };
    }

    public override async Task<Contracts.Chat.V1.Permissions> GetPermissions(GetPermissionsRequest request, ServerCallContext context) =>
        (await permissions.GetAsync(context.CancellationToken)).ToMessage();

    public override async Task<Contracts.Chat.V1.Permissions> UpdatePermissions(UpdatePermissionsRequest request, ServerCallContext context) =>
        (await permissions.UpdateAsync(request, context.CancellationToken)).ToMessage();

    public override Task<ToolList> ListTools(ListToolsRequest request, ServerCallContext context)
    {
        var list = new ToolList();
        list.Tools.AddRange(tools.All().Select(t => t.Name));
        return Task.FromResult(list);
    }

    public override async Task<SandboxConfig> GetSandbox(GetSandboxRequest request, ServerCallContext context) =>
        (await sandbox.GetAsync(context.CancellationToken)).ToMessage();

    public override async Task<SandboxConfig> UpdateSandbox(UpdateSandboxRequest request, ServerCallContext context) =>
        (await sandbox.UpdateAsync(request, context.CancellationToken)).ToMessage();

    public override async Task Converse(IAsyncStreamReader<ClientFrame> requestStream, IServerStreamWriter<ServerFrame> responseStream, ServerCallContext context)
    {
        var aborted = context.CancellationToken;
        if (!await requestStream.MoveNext(aborted) || requestStream.Current.KindCase != ClientFrame.KindOneofCase.Open)
        {
            throw Check.Invalid("the first frame of Converse must be open");
        }
        var open = requestStream.Current.Open;
        if (open.AfterId < 0)
        {
            throw Check.Invalid("after_id must not be negative");
        }
        var chat = await RequireChatAsync(open.ChatId, aborted);
        var session = sessions.Get(chat.Id);
        await context.WriteResponseHeadersAsync(new Metadata { { StreamOpenHeader, "1" } });

        using var connection = CancellationTokenSource.CreateLinkedTokenSource(aborted, session.Lifetime.Token);
        // Stream events and this connection's own replies share the response stream; the lock
        // keeps their writes whole without a hand-off between threads on the hot path.
        using var writeLock = new SemaphoreSlim(1, 1);
        async Task WriteAsync(ServerFrame frame)
        {
            await writeLock.WaitAsync(connection.Token);
            try
            {
                await responseStream.WriteAsync(frame, connection.Token);
            }
            finally
            {
                writeLock.Release();
            }
        }

        var incoming = Task.Run(async () =>
        {
            try
            {
                while (await requestStream.MoveNext(connection.Token))
                {
                    var frame = requestStream.Current;
                    if (frame.KindCase == ClientFrame.KindOneofCase.Message && HandleClientMessage(session, frame.Message) is { } reply)
                    {
                        await WriteAsync(new ServerFrame { Json = reply });
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or RpcException)
            {
            }
            // The client went away: this connection ends; the chat's turn goes on.
            await connection.CancelAsync();
        });
        try
        {
            await foreach (var stored in events.StreamAsync(chat.Id, open.AfterId, connection.Token))
            {
                await WriteAsync(new ServerFrame { Id = stored.Id, Json = ChatEvents.Frame(stored) });
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
        }
        await connection.CancelAsync();
        await incoming;
    }

    /// <summary>Acts on one client message; returns a reply for this connection only (an error), or null.</summary>
    private string? HandleClientMessage(ChatSession session, string json)
    {
        if (json.Length > Check.Text + 4096)
        {
            return Error("invalid_event", $"the message is too large ({json.Length} characters)");
        }
        switch (ClientMessage.Parse(json))
        {
            case ClientMessage.UserMessage message:
                return session.TryEnqueue(message) ? null : Error("queue_full", "too many messages are queued for this chat; wait for the running turn");
            case ClientMessage.ToolApproval approval:
                return session.Approve(approval, out var error) ? null : Error("invalid_event", error);
            case ClientMessage.Cancel:
                return session.Cancel() ? null : Error("invalid_event", "no turn is running");
            case ClientMessage.Invalid invalid:
                return Error("invalid_event", invalid.Message);
            default:
                return null;
        }
    }

    private string Error(string code, string message) => events.Ephemeral("agent.error", new { code, message });

    private async Task<ChatRecord> RequireChatAsync(string chatId, CancellationToken cancellationToken)
    {
        Check.Require(chatId, "chat_id", Check.Name);
        return await store.GetChatAsync(chatId, cancellationToken) ?? throw Check.NotFound($"chat {Check.Quote(chatId)} not found");
    }
}

/// <summary>Renders stored messages as transcript turns: {"role","content":[blocks],"created_at"}.</summary>
internal static class Transcript
{
    public static Value Turn(StoredMessage stored)
    {
        var message = AgentLoop.Deserialize(stored.ContentJson);
        var blocks = new ListValue();
        foreach (var content in message.Contents)
        {
            var block = new Struct();
            switch (content)
            {
                case TextContent { Text.Length: > 0 } text:
                    block.Fields["type"] = Value.ForString("text");
                    block.Fields["text"] = Value.ForString(text.Text);
                    break;
                case FunctionCallContent call:
                    block.Fields["type"] = Value.ForString("tool_use");
                    block.Fields["id"] = Value.ForString(call.CallId);
                    block.Fields["name"] = Value.ForString(call.Name);
                    block.Fields["input"] = Value.Parser.ParseJson(JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions));
                    break;
                case FunctionResultContent result:
                    block.Fields["type"] = Value.ForString("tool_result");
                    block.Fields["tool_use_id"] = Value.ForString(result.CallId);
                    block.Fields["content"] = Value.ForString(result.Result?.ToString() ?? "");
                    break;
                default:
                    continue;
            }
            blocks.Values.Add(Value.ForStruct(block));
        }
        var turn = new Struct();
        turn.Fields["role"] = Value.ForString(stored.Role);
        turn.Fields["content"] = Value.ForList([.. blocks.Values]);
        turn.Fields["created_at"] = Value.ForString(stored.CreatedAt.UtcDateTime.ToString("O"));
        return Value.ForStruct(turn);
    }
}
