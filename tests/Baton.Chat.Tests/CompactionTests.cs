using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Chat.Tests.Infrastructure;

namespace Baton.Chat.Tests;

[Collection(ChatSystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class CompactionTests(ChatSystem chat)
{
    private const string Summary = "SUMMARY-OF-EARLIER-TURNS";

    [Theory]
    [InlineData("anthropic")]
    [InlineData("openai")]
    public async Task PastTheThreshold_WithMoreThanFourExchanges_OlderTurnsAreSummarised(string provider)
    {
        // Each answer reports 900 tokens of a 1000-token window: past the 0.75 threshold.
        await using var fake = await FakeLlm.StartAsync(call => call.HasTools
            ? ModelReply.Text($"reply to {call.UserTexts[^1]}", inputTokens: 880, outputTokens: 20)
            : ModelReply.Text(Summary, inputTokens: 500, outputTokens: 31));
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, provider, contextWindow: 1000));
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        for (var i = 1; i <= 4; i++)
        {
            var from = socket.Events.Count;
            await socket.SayAsync($"message {i}");
            await socket.WaitForTypeAsync("agent.turn_complete", from);
        }
        Assert.DoesNotContain(socket.Events, e => (string?)e["type"] == "agent.compaction_started");

        await socket.SayAsync("message 5");
        var started = await socket.WaitForTypeAsync("agent.compaction_started");
        Assert.Equal(900, (long)started["data"]!["tokens_before"]!);
        Assert.Equal(1000, (long)started["data"]!["context_window"]!);
        var compacted = await socket.WaitForTypeAsync("agent.context_compacted");
        Assert.Equal(900, (long)compacted["data"]!["tokens_before"]!);
        var after = (long)compacted["data"]!["tokens_after"]!;
        Assert.InRange(after, 31, 899);
        Assert.Equal(2, (int)compacted["data"]!["turns_removed"]!);
        var compactedAt = socket.Events.ToList().IndexOf(compacted);
        await socket.WaitForTypeAsync("agent.turn_complete", compactedAt);

        var summaryCall = fake.Calls.Single(c => !c.HasTools);
        Assert.Contains("message 1", summaryCall.UserTexts[^1]);
        var next = fake.AgentCalls[^1];
        Assert.Contains(Summary, next.System);
        Assert.Equal(["message 2", "message 3", "message 4", "message 5"], next.UserTexts);

        var transcript = await chat.GetJsonAsync($"/api/chats/{chatId}");
        Assert.Equal(Summary, (string)transcript["summary"]!);
    }

    [Fact]
    public async Task ManualCompact_SummarisesAllButTheLastFourExchanges()
    {
        await using var fake = await FakeLlm.StartAsync(call => call.HasTools
            ? ModelReply.Text("ok", inputTokens: 100, outputTokens: 5)
            : ModelReply.Text(Summary, inputTokens: 50, outputTokens: 12));
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic", contextWindow: 100_000));
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        using (var nothing = await chat.Http.PostAsync($"/api/chats/{chatId}/compact", null))
        {
            Assert.Equal(HttpStatusCode.OK, nothing.StatusCode);
            Assert.Equal(0, (int)(await nothing.Content.ReadFromJsonAsync<JsonObject>())!["turns_removed"]!);
        }
        for (var i = 1; i <= 6; i++)
        {
            var from = socket.Events.Count;
            await socket.SayAsync($"m{i}");
            await socket.WaitForTypeAsync("agent.turn_complete", from);
        }
        Assert.DoesNotContain(socket.Events, e => (string?)e["type"] == "agent.compaction_started");
        using var response = await chat.Http.PostAsync($"/api/chats/{chatId}/compact", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(105, (long)body["tokens_before"]!);
        Assert.Equal(4, (int)body["turns_removed"]!);
        Assert.True((long)body["tokens_after"]! > 12);
        await socket.WaitForTypeAsync("agent.context_compacted");
        var turns = (await chat.GetJsonAsync($"/api/chats/{chatId}"))["turns"]!.AsArray();
        Assert.Equal(8, turns.Count);
        var context = await chat.GetJsonAsync($"/api/chats/{chatId}/context");
        Assert.Equal((long)body["tokens_after"]!, (long)context["current_tokens"]!);
    }
}
