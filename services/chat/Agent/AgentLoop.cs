using System.Text.Json;
using Baton.Chat.Permissions;
using Baton.Chat.Profiles;
using Baton.Chat.Sandbox;
using Baton.Chat.Storage;
using Baton.Chat.Tools;
using Microsoft.Extensions.AI;

namespace Baton.Chat.Agent;

/// <summary>
/// The agent, written once against <see cref="IChatClient"/>: each queued user message is a turn
/// that streams the model's answer, asks for approval of the tool calls the permissions say to
/// ask about, runs the allowed ones in the workspace and hands their output back, until the model
/// stops calling tools. Every step is an event in the chat's durable stream.
/// </summary>
public sealed class AgentLoop(
    ChatStore store, ChatEvents events, ProfileService profiles, ChatClientFactory clients, ToolRegistry tools,
    PermissionStore permissions, SandboxConfigStore sandbox, Compactor compactor, TokenEstimator tokens,
    ChatOptions options, TimeProvider time, ILogger<AgentLoop> logger)
{
    public const int MaxConsecutiveDenials = 3;

    public async Task RunAsync(ChatSession session)
    {
        try
        {
            await foreach (var message in session.Inbox.ReadAllAsync(session.Lifetime.Token))
            {
                await session.Busy.WaitAsync(session.Lifetime.Token);
                session.Finishing = false;
                try
                {
                    await store.SetTurnRunningAsync(session.ChatId, true, CancellationToken.None);
                    await RunTurnAsync(session, message);
                    await store.SetTurnRunningAsync(session.ChatId, false, CancellationToken.None);
                }
                catch (OperationCanceledException) when (session.Lifetime.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Turn of chat {ChatId} failed", session.ChatId);
                    await TryEmitAsync(session.ChatId, "agent.error", new { code = "internal_error", message = "the turn failed: " + ex.Message });
                }
                finally
                {
                    session.EndTurn();
                    session.Busy.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunTurnAsync(ChatSession session, ClientMessage.UserMessage input)
    {
        var chatId = session.ChatId;
        var cancellation = session.BeginTurn();
        var chat = await store.GetChatAsync(chatId, cancellation);
        if (chat is null)
        {
            return;
        }
        var profile = await profiles.ResolveAsync(chat.ProfileName, cancellation);
        if (profile is null)
        {
            await events.EmitAsync(chatId, "agent.error", new
            {
                code = "no_profile",
                message = "no model profile: create one with POST /api/profiles (the first becomes the default) or pick one with PUT /api/chats/{id}/profile",
            }, CancellationToken.None);
            return;
        }
        var client = clients.For(profile);
        var userMessage = new ChatMessage(ChatRole.User, input.Content);
        await store.AppendMessageAsync(chatId, "user", Serialize(userMessage), isUserInput: true, time.GetUtcNow(), cancellation);

        var compacted = await compactor.CompactIfNeededAsync(chat, profile, client, cancellation);
        chat = compacted ?? chat;

        var toolList = tools.All();
        var chatOptions = new Microsoft.Extensions.AI.ChatOptions
        {
            ModelId = profile.Model,
            MaxOutputTokens = profile.MaxOutputTokens ?? 4096,
            Tools = [.. toolList.Select(ToolRegistry.Declare)],
            ToolMode = ChatToolMode.Auto,
        };
        long inputTotal = 0, outputTotal = 0;
        var denials = 0;
        string stopReason = "end_turn";
        List<FunctionCallContent> unanswered = [];
        try
        {
            for (var round = 1; ; round++)
            {
                if (round > options.MaxToolRounds)
                {
                    await events.EmitAsync(chatId, "agent.error", new { code = "max_tool_rounds", message = $"stopped after {options.MaxToolRounds} model calls in one turn" }, CancellationToken.None);
                    stopReason = "tool_use";
                    break;
                }
                var history = await HistoryAsync(chat, cancellation);
                var updates = new List<ChatResponseUpdate>();
                var pending = new List<Task>();
                await foreach (var update in client.GetStreamingResponseAsync(history, chatOptions, cancellation))
                {
                    updates.Add(update);
                    if (input.Stream && update.Text is { Length: > 0 } delta)
                    {
                        // Appends keep their order; awaiting each commit would only slow the stream.
                        pending.Add(events.EmitAsync(chatId, "agent.text_delta", new { text = delta }, CancellationToken.None));
                    }
                }
                await Task.WhenAll(pending);
                var response = updates.ToChatResponse();
                var assistant = response.Messages.LastOrDefault(m => m.Role == ChatRole.Assistant) ?? new ChatMessage(ChatRole.Assistant, response.Text);
                var calls = assistant.Contents.OfType<FunctionCallContent>().ToList();
                await store.AppendMessageAsync(chatId, "assistant", Serialize(assistant), isUserInput: false, time.GetUtcNow(), CancellationToken.None);
                unanswered = calls;

                var usedInput = response.Usage?.InputTokenCount;
                var usedOutput = response.Usage?.OutputTokenCount;
                inputTotal += usedInput ?? 0;
                outputTotal += usedOutput ?? 0;
                var current = usedInput is not null || usedOutput is not null
                    ? (usedInput ?? 0) + (usedOutput ?? 0)
                    : tokens.Count([.. history, assistant]);
                await store.SetCurrentTokensAsync(chatId, current, CancellationToken.None);

                if (!input.Stream && assistant.Text is { Length: > 0 } text)
                {
                    await events.EmitAsync(chatId, "agent.text", new { text }, CancellationToken.None);
                }
                stopReason = StopReason(response.FinishReason, calls.Count > 0);
                if (calls.Count == 0)
                {
                    break;
                }

                var outcome = await HandleToolCallsAsync(session, chat, calls, cancellation);
                await store.AppendMessageAsync(chatId, "tool", Serialize(new ChatMessage(ChatRole.Tool, [.. outcome.Results])), isUserInput: false, time.GetUtcNow(), CancellationToken.None);
                unanswered = [];
                if (outcome.TimedOut)
                {
                    await events.EmitAsync(chatId, "agent.error", new { code = "approval_timeout", message = $"no tool approval within {options.ApprovalTimeout.TotalSeconds:0} s; the pending calls were denied" }, CancellationToken.None);
                    stopReason = "error";
                    break;
                }
                denials = outcome.AllDenied ? denials + 1 : 0;
                if (denials >= MaxConsecutiveDenials)
                {
                    await events.EmitAsync(chatId, "agent.error", new { code = "tool_denied", message = $"stopped after {MaxConsecutiveDenials} consecutive batches of denied tool calls" }, CancellationToken.None);
                    stopReason = "tool_use";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            if (session.Lifetime.IsCancellationRequested)
            {
                // The service is stopping (or the chat is being deleted): the turn stays marked as running,
                // so the next start closes it as interrupted for the clients that resume it.
                throw;
            }
            await AnswerUnansweredAsync(chatId, unanswered, "cancelled by the user");
            session.Finishing = true;
            await events.EmitAsync(chatId, "agent.cancelled", new { message = "the turn was cancelled" }, CancellationToken.None);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Model call of chat {ChatId} ({Profile}) failed: {Error}", chatId, profile.ToString(), ex.Message);
            await AnswerUnansweredAsync(chatId, unanswered, "the turn failed before this call ran");
            await events.EmitAsync(chatId, "agent.error", new { code = "provider_error", message = Trim(ex.Message) }, CancellationToken.None);
            stopReason = "error";
        }
        // A client that acts on turn_complete (a manual compaction) waits for the turn's bookkeeping, not a 409.
        session.Finishing = true;
        await events.EmitAsync(chatId, "agent.turn_complete", new
        {
            stop_reason = stopReason,
            model = profile.Model,
            usage = new { input_tokens = inputTotal, output_tokens = outputTotal },
        }, CancellationToken.None);
    }

    private sealed record ToolBatchOutcome(List<AIContent> Results, bool AllDenied, bool TimedOut);

    private async Task<ToolBatchOutcome> HandleToolCallsAsync(ChatSession session, ChatRecord chat, List<FunctionCallContent> calls, CancellationToken cancellation)
    {
        var chatId = chat.Id;
        var policy = await permissions.GetAsync(cancellation);
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        var policyDenied = new List<FunctionCallContent>();
        var ask = new List<FunctionCallContent>();
        foreach (var call in calls)
        {
            var tool = tools.Find(call.Name);
            var level = tool is null ? ToolLevel.Allow : policy.LevelOf(tool);
            switch (level)
            {
                case ToolLevel.Allow:
                    allowed.Add(call.CallId);
                    break;
                case ToolLevel.Deny:
                    policyDenied.Add(call);
                    break;
                default:
                    ask.Add(call);
                    break;
            }
        }
        if (policyDenied.Count > 0)
        {
            await events.EmitAsync(chatId, "agent.tool_denied", new { tool_calls = Describe(policyDenied), reason = "policy_deny" }, CancellationToken.None);
        }
        var userDenied = new List<FunctionCallContent>();
        var timedOut = false;
        if (ask.Count > 0)
        {
            var pending = session.AwaitApproval([.. ask.Select(c => c.CallId)]);
            await events.EmitAsync(chatId, "agent.tool_request", new { tool_calls = Describe(ask) }, CancellationToken.None);
            try
            {
                var verdicts = await pending.Verdicts.Task.WaitAsync(options.ApprovalTimeout, time, cancellation);
                foreach (var call in ask)
                {
                    if (verdicts.TryGetValue(call.CallId, out var ok) && ok)
                    {
                        allowed.Add(call.CallId);
                    }
                    else
                    {
                        userDenied.Add(call);
                    }
                }
            }
            catch (TimeoutException)
            {
                timedOut = true;
                userDenied.AddRange(ask);
            }
            if (userDenied.Count > 0 && !timedOut)
            {
                await events.EmitAsync(chatId, "agent.tool_denied", new { tool_calls = Describe(userDenied), reason = "user_deny" }, CancellationToken.None);
            }
        }

        var context = new ToolContext(chatId, chat.Workspace, await sandbox.GetAsync(cancellation));
        var results = new List<AIContent>();
        foreach (var call in calls)
        {
            string content;
            bool isError;
            if (policyDenied.Contains(call))
            {
                (content, isError) = ($"Tool call not permitted: {call.Name} is denied by the permission settings.", true);
            }
            else if (!allowed.Contains(call.CallId))
            {
                (content, isError) = (timedOut ? "Tool call not run: the approval timed out." : "Tool call denied by the user.", true);
            }
            else
            {
                (content, isError) = await RunToolAsync(context, call, cancellation);
                await events.EmitAsync(chatId, "agent.tool_result", new { tool_use_id = call.CallId, tool_name = call.Name, content, is_error = isError }, CancellationToken.None);
            }
            results.Add(new FunctionResultContent(call.CallId, content));
        }
        return new ToolBatchOutcome(results, allowed.Count == 0, timedOut);
    }

    private async Task<(string Content, bool IsError)> RunToolAsync(ToolContext context, FunctionCallContent call, CancellationToken cancellation)
    {
        var tool = tools.Find(call.Name);
        if (tool is null)
        {
            return ($"unknown tool {call.Name}; available: {string.Join(", ", tools.All().Select(t => t.Name))}", true);
        }
        var arguments = JsonSerializer.SerializeToElement(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions);
        try
        {
            var outcome = await tool.InvokeAsync(context, arguments, cancellation);
            var content = outcome.Content.Length > options.ToolOutputLimit
                ? outcome.Content[..options.ToolOutputLimit] + $"\n[output truncated: {outcome.Content.Length - options.ToolOutputLimit} more characters]"
                : outcome.Content;
            return (content, outcome.IsError);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return ($"{call.Name} failed: {ex.Message}", true);
        }
    }

    private async Task<List<ChatMessage>> HistoryAsync(ChatRecord chat, CancellationToken cancellation)
    {
        var current = await store.GetChatAsync(chat.Id, cancellation) ?? chat;
        var messages = new List<ChatMessage> { new(ChatRole.System, SystemPrompt(current)) };
        var open = new List<FunctionCallContent>();
        foreach (var stored in await store.ActiveMessagesAsync(chat.Id, cancellation))
        {
            var message = Deserialize(stored.ContentJson);
            if (message.Role != ChatRole.Tool && open.Count > 0)
            {
                messages.Add(Unanswered(open, "interrupted"));
                open = [];
            }
            var answered = message.Contents.OfType<FunctionResultContent>().Select(r => r.CallId).ToHashSet(StringComparer.Ordinal);
            open = [.. open.Where(c => !answered.Contains(c.CallId)), .. message.Contents.OfType<FunctionCallContent>()];
            messages.Add(message);
        }
        if (open.Count > 0)
        {
            // A call left without a result (the service stopped mid-turn) would make the provider refuse the whole history.
            messages.Add(Unanswered(open, "interrupted"));
        }
        return messages;
    }

    public static string SystemPrompt(ChatRecord chat)
    {
        var prompt = $"""
            You are a coding agent working in the directory {chat.Workspace} (the workspace). Use the tools to
            inspect and change files there: read, write, edit, glob, grep, and bash (commands run in the workspace).
            Paths are relative to the workspace; nothing outside it is reachable. Be concise.
            """;
        return chat.Summary is { Length: > 0 } summary ? prompt + "\n\nSummary of the earlier conversation:\n" + summary : prompt;
    }

    private async Task AnswerUnansweredAsync(string chatId, List<FunctionCallContent> calls, string reason)
    {
        if (calls.Count == 0)
        {
            return;
        }
        // The model's protocol needs a result for every call it made before the next user message.
        await store.AppendMessageAsync(chatId, "tool", Serialize(Unanswered(calls, reason)), isUserInput: false, time.GetUtcNow(), CancellationToken.None);
    }

    private static ChatMessage Unanswered(IEnumerable<FunctionCallContent> calls, string reason) =>
        new(ChatRole.Tool, [.. calls.Select(c => (AIContent)new FunctionResultContent(c.CallId, $"Tool call not run: {reason}."))]);

    private static object[] Describe(IEnumerable<FunctionCallContent> calls) =>
        [.. calls.Select(c => (object)new { id = c.CallId, name = c.Name, arguments = c.Arguments ?? new Dictionary<string, object?>() })];

    public static string StopReason(ChatFinishReason? reason, bool hasCalls)
    {
        if (reason == ChatFinishReason.Length)
        {
            return "max_tokens";
        }
        if (reason == ChatFinishReason.ContentFilter)
        {
            return "content_filter";
        }
        return hasCalls || reason == ChatFinishReason.ToolCalls ? "tool_use" : "end_turn";
    }

    private async Task TryEmitAsync(string chatId, string type, object data)
    {
        try
        {
            await events.EmitAsync(chatId, type, data, CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Could not record {Type} for chat {ChatId}", type, chatId);
        }
    }

    private static string Trim(string message) => message.Length > 1000 ? message[..1000] + "…" : message;

    public static string Serialize(ChatMessage message) => JsonSerializer.Serialize(message, AIJsonUtilities.DefaultOptions);

    public static ChatMessage Deserialize(string json) => JsonSerializer.Deserialize<ChatMessage>(json, AIJsonUtilities.DefaultOptions)!;
}
