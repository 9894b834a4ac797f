using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>One content block the fake model answers with.</summary>
public abstract record FakeBlock;

public sealed record FakeText(string Text) : FakeBlock;

public sealed record FakeToolUse(string Id, string Name, JsonObject Input) : FakeBlock;

/// <summary>One scripted model turn: its content, why it stopped and the usage it reports.</summary>
public sealed record FakeReply(IReadOnlyList<FakeBlock> Content, string StopReason, int InputTokens, int OutputTokens, int CacheCreationTokens = 0, int CacheReadTokens = 0);

/// <summary>A request the CLI made, as received.</summary>
public sealed record AnthropicRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, JsonObject? Body)
{
    public bool Stream => Body?["stream"] is JsonValue v && v.TryGetValue<bool>(out var s) && s;

    public string? Model => Body?["model"] is JsonValue v && v.TryGetValue<string>(out var m) ? m : null;

    public JsonArray Messages => Body?["messages"] as JsonArray ?? [];

    /// <summary>
    /// The agent's own conversation: a Messages call that offers tools. Auxiliary calls the CLI may
    /// make (titles, summaries, topic detection with a small model) come without tools.
    /// </summary>
    public bool IsConversation =>
        Method == "POST" && System.IO.Path.GetFileName(Path) == "messages" && Body?["tools"] is JsonArray { Count: > 0 };

    /// <summary>The text of every text and tool_result block of every message, in order (for "the model saw X" assertions).</summary>
    public string Transcript()
    {
        var text = new StringBuilder();
        foreach (var message in Messages)
        {
            text.Append('[').Append((string?)message?["role"]).Append("] ");
            AppendContent(text, message?["content"]);
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The content of the tool_result for <paramref name="toolUseId"/> in the last user message, if any.</summary>
    public string? ToolResult(string toolUseId)
    {
        if (Messages.LastOrDefault()?["content"] is not JsonArray blocks)
        {
            return null;
        }
        var block = blocks.FirstOrDefault(b => (string?)b?["type"] == "tool_result" && (string?)b?["tool_use_id"] == toolUseId);
        if (block is null)
        {
            return null;
        }
        var text = new StringBuilder();
        AppendContent(text, block["content"]);
        return text.ToString();
    }

    private static void AppendContent(StringBuilder text, JsonNode? content)
    {
        switch (content)
        {
            case JsonValue value when value.TryGetValue<string>(out var s):
                text.Append(s);
                break;
            case JsonArray blocks:
                foreach (var block in blocks)
                {
                    switch ((string?)block?["type"])
                    {
                        case "text":
                            text.Append((string?)block!["text"]).Append(' ');
                            break;
                        case "tool_use":
                            text.Append("tool_use:").Append((string?)block!["name"]).Append(' ').Append(block["input"]?.ToJsonString()).Append(' ');
                            break;
                        case "tool_result":
                            text.Append("tool_result:");
                            AppendContent(text, block!["content"]);
                            text.Append(' ');
                            break;
                    }
                }
                break;
        }
    }
}

/// <summary>
/// A local server speaking the Anthropic Messages API (streaming SSE and plain JSON) for driving
/// the real Claude Code CLI in tests. It checks <c>x-api-key</c> and <c>anthropic-version</c>,
/// records every request, answers the agent's conversation from a per-test script and anything
/// auxiliary (count_tokens, tool-less side calls, unknown routes) with something harmless.
/// </summary>
public sealed class FakeAnthropicApi : FakeModelApi<AnthropicRequest>
{
    private readonly Func<AnthropicRequest, CancellationToken, Task<FakeReply>> _conversation;
    private int _messageCounter;

    private FakeAnthropicApi(string apiKey, Func<AnthropicRequest, CancellationToken, Task<FakeReply>> conversation)
        : base(apiKey)
    {
        _conversation = conversation;
    }

    public IReadOnlyList<AnthropicRequest> ConversationRequests => [.. Requests.Where(r => r.IsConversation)];

    public static async Task<FakeAnthropicApi> StartAsync(Func<AnthropicRequest, CancellationToken, Task<FakeReply>> conversation)
    {
        var api = new FakeAnthropicApi($"sk-ant-test-{Guid.NewGuid():N}", conversation);
        await api.ListenAsync();
        return api;
    }

    public static Task<FakeAnthropicApi> StartAsync(Func<AnthropicRequest, FakeReply> conversation) =>
        StartAsync((request, _) => Task.FromResult(conversation(request)));

    protected override async Task HandleAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var path = request.Path;
        if (context.Request.Headers["x-api-key"] != ApiKey)
        {
            await ErrorAsync(context, StatusCodes.Status401Unauthorized, "authentication_error", "invalid x-api-key");
            return;
        }
        if (path.StartsWith("/v1/", StringComparison.Ordinal) && string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request_error", "anthropic-version header is required");
            return;
        }
        if (request.Method == "POST" && path == "/v1/messages/count_tokens")
        {
            await context.Response.WriteAsJsonAsync(new JsonObject { ["input_tokens"] = 42 }, context.RequestAborted);
            return;
        }
        if (request.Method != "POST" || path != "/v1/messages" || request.Body is null)
        {
            // Not part of the Messages API: answer harmlessly so the CLI carries on; the recorded request shows it happened.
            await context.Response.WriteAsJsonAsync(new JsonObject(), context.RequestAborted);
            return;
        }
        FakeReply reply;
        if (request.IsConversation)
        {
            try
            {
                reply = await _conversation(request, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
        }
        else
        {
            reply = new FakeReply([new FakeText("Baton test")], "end_turn", 3, 2);
        }
        var id = $"msg_fake_{Interlocked.Increment(ref _messageCounter):D4}";
        if (request.Stream)
        {
            await StreamAsync(context, id, request.Model, reply);
        }
        else
        {
            await context.Response.WriteAsJsonAsync(Message(id, request.Model, reply), context.RequestAborted);
        }
    }

    private async Task<AnthropicRequest> RecordAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(context.RequestAborted);
        JsonObject? body = null;
        try
        {
            body = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
        }
        catch (System.Text.Json.JsonException)
        {
        }
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
        var request = new AnthropicRequest(context.Request.Method, context.Request.Path.Value ?? "/", headers, body);
        Record(request);
        return request;
    }

    private static Task ErrorAsync(HttpContext context, int status, string type, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
        }, context.RequestAborted);
    }

    private static JsonObject Message(string id, string? model, FakeReply reply) => new()
    {
        ["id"] = id,
        ["type"] = "message",
        ["role"] = "assistant",
        ["model"] = model,
        ["content"] = new JsonArray([.. reply.Content.Select(Block)]),
        ["stop_reason"] = reply.StopReason,
        ["stop_sequence"] = null,
        ["usage"] = Usage(reply, reply.OutputTokens),
    };

    private static JsonNode Block(FakeBlock block) => block switch
    {
        FakeText t => new JsonObject { ["type"] = "text", ["text"] = t.Text },
        FakeToolUse u => new JsonObject { ["type"] = "tool_use", ["id"] = u.Id, ["name"] = u.Name, ["input"] = u.Input.DeepClone() },
        _ => throw new ArgumentOutOfRangeException(nameof(block)),
    };

    private static JsonObject Usage(FakeReply reply, int output) => new()
    {
        ["input_tokens"] = reply.InputTokens,
        ["cache_creation_input_tokens"] = reply.CacheCreationTokens,
        ["cache_read_input_tokens"] = reply.CacheReadTokens,
        ["output_tokens"] = output,
    };

    /// <summary>The streaming protocol: message_start, ping, per block start/deltas/stop, message_delta (stop reason, final output usage), message_stop.</summary>
    private static async Task StreamAsync(HttpContext context, string id, string? model, FakeReply reply)
    {
        var ct = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        async Task SendAsync(string type, JsonObject data)
        {
            data["type"] = type;
            await context.Response.WriteAsync($"event: {type}\ndata: {data.ToJsonString()}\n\n", ct);
            await context.Response.Body.FlushAsync(ct);
        }

        var start = Message(id, model, reply);
        start["content"] = new JsonArray();
        start["stop_reason"] = null;
        start["usage"] = Usage(reply, 1);
        await SendAsync("message_start", new JsonObject { ["message"] = start });
        await SendAsync("ping", []);
        for (var index = 0; index < reply.Content.Count; index++)
        {
            switch (reply.Content[index])
            {
                case FakeText text:
                    await SendAsync("content_block_start", new JsonObject { ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
                    foreach (var piece in SplitWords(text.Text))
                    {
                        await SendAsync("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
                    }
                    break;
                case FakeToolUse toolUse:
                    await SendAsync("content_block_start", new JsonObject
                    {
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = toolUse.Id, ["name"] = toolUse.Name, ["input"] = new JsonObject() },
                    });
                    // Split like the real API does: partial JSON that only parses once concatenated.
                    var json = toolUse.Input.ToJsonString();
                    foreach (var part in new[] { json[..(json.Length / 2)], json[(json.Length / 2)..] })
                    {
                        await SendAsync("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = part } });
                    }
                    break;
            }
            await SendAsync("content_block_stop", new JsonObject { ["index"] = index });
        }
        await SendAsync("message_delta", new JsonObject
        {
            ["delta"] = new JsonObject { ["stop_reason"] = reply.StopReason, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = reply.OutputTokens },
        });
        await SendAsync("message_stop", []);
    }

    private static IEnumerable<string> SplitWords(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i - 1] == ' ')
            {
                if (i > start)
                {
                    yield return text[start..i];
                }
                start = i;
            }
        }
    }
}
