using Baton.Chat.Profiles;
using Baton.Chat.Storage;
using Microsoft.Extensions.AI;

namespace Baton.Chat.Agent;

/// <summary>
/// Context compaction (NOTES §2.4): when the context reaches <c>compaction_threshold</c> of the
/// profile's window and more than four user exchanges exist, the model summarises everything but
/// the last four exchanges, which stay verbatim; the summary joins the system prompt.
/// </summary>
public sealed class Compactor(ChatStore store, ChatEvents events, ChatOptions options, TokenEstimator tokens, ILogger<Compactor> logger)
{
    public const int KeptExchanges = 4;

    public async Task<ChatRecord?> CompactIfNeededAsync(ChatRecord chat, ResolvedProfile profile, IChatClient client, CancellationToken cancellationToken)
    {
        var messages = await store.ActiveMessagesAsync(chat.Id, cancellationToken);
        var current = chat.CurrentTokens > 0 ? chat.CurrentTokens : EstimateContext(chat, messages);
        if (current < options.CompactionThreshold * profile.EffectiveContextWindow || messages.Count(m => m.IsUserInput) <= KeptExchanges)
        {
            return null;
        }
        return (await CompactAsync(chat, profile, client, current, cancellationToken)).Chat;
    }

    public sealed record Outcome(long TokensBefore, long TokensAfter, int TurnsRemoved, ChatRecord Chat);

    /// <summary>Compacts now (the manual route, or the automatic trigger); with four exchanges or fewer nothing is removed.</summary>
    public async Task<Outcome> CompactAsync(ChatRecord chat, ResolvedProfile profile, IChatClient client, long? tokensBefore, CancellationToken cancellationToken)
    {
        var messages = await store.ActiveMessagesAsync(chat.Id, cancellationToken);
        var before = tokensBefore ?? (chat.CurrentTokens > 0 ? chat.CurrentTokens : EstimateContext(chat, messages));
        var exchanges = messages.Select((m, i) => (m, i)).Where(x => x.m.IsUserInput).Select(x => x.i).ToList();
        if (exchanges.Count <= KeptExchanges)
        {
            return new Outcome(before, before, 0, chat);
        }
        var cut = exchanges[^KeptExchanges];
        var older = messages[..cut];
        var kept = messages[cut..];
        await events.EmitAsync(chat.Id, "agent.compaction_started", new { tokens_before = before, context_window = profile.EffectiveContextWindow }, CancellationToken.None);

        var transcript = TokenEstimator.Render(older.Select(m => AgentLoop.Deserialize(m.ContentJson)));
        var request = new List<ChatMessage>
        {
            new(ChatRole.System, "You summarise a conversation between a user and a coding agent so the agent can continue it without the original messages. Keep decisions, file names, commands and their outcomes, open questions and the user's preferences. Answer with the summary only."),
            new(ChatRole.User, (chat.Summary is { Length: > 0 } earlier ? $"Summary of what came before:\n{earlier}\n\n" : "") + "Conversation to summarise:\n" + transcript),
        };
        var response = await client.GetResponseAsync(request, new Microsoft.Extensions.AI.ChatOptions { MaxOutputTokens = Math.Min(profile.MaxOutputTokens ?? 4096, 4096) }, cancellationToken);
        var summary = response.Text;
        if (string.IsNullOrWhiteSpace(summary))
        {
            throw new InvalidOperationException("the model returned an empty summary");
        }
        // The summary's own size is what the provider reported generating; the rest is estimated.
        var summaryTokens = response.Usage?.OutputTokenCount ?? tokens.Count(summary);
        var compactedChat = chat with { Summary = summary };
        var after = tokens.Count(AgentLoop.SystemPrompt(compactedChat with { Summary = null })) + summaryTokens
            + tokens.Count(kept.Select(m => AgentLoop.Deserialize(m.ContentJson)));
        await store.CompactAsync(chat.Id, older[^1].Id, summary, after, cancellationToken);
        logger.LogInformation("Compacted chat {ChatId}: {Before} → {After} tokens, {Removed} messages summarised", chat.Id, before, after, older.Count);
        await events.EmitAsync(chat.Id, "agent.context_compacted", new { tokens_before = before, tokens_after = after, turns_removed = older.Count }, CancellationToken.None);
        return new Outcome(before, after, older.Count, compactedChat with { CurrentTokens = after });
    }

    public long EstimateContext(ChatRecord chat, IEnumerable<StoredMessage> messages) =>
        tokens.Count(AgentLoop.SystemPrompt(chat)) + tokens.Count(messages.Select(m => AgentLoop.Deserialize(m.ContentJson)));
}
