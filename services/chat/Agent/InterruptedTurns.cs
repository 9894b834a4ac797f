using Baton.Chat.Storage;

namespace Baton.Chat.Agent;

/// <summary>
/// At start-up, closes the turns a previous run of the service left open (it stopped mid-turn), so
/// a client replaying the chat sees the turn end instead of waiting for it forever.
/// </summary>
public sealed class InterruptedTurns(ChatStore store, ChatEvents events, ILogger<InterruptedTurns> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var chatId in await store.InterruptedChatsAsync(cancellationToken))
        {
            logger.LogWarning("Chat {ChatId} had a turn running when the service stopped; it is closed as interrupted", chatId);
            await events.EmitAsync(chatId, "agent.error", new { code = "interrupted", message = "the chat service stopped during this turn; send the message again to retry" }, cancellationToken);
            await events.EmitAsync(chatId, "agent.turn_complete", new { stop_reason = "error", model = "", usage = new { input_tokens = 0, output_tokens = 0 } }, cancellationToken);
            await store.SetTurnRunningAsync(chatId, false, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
