using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Chat.Tests.Infrastructure;

public abstract record Step;

public sealed record Say(string Text) : Step;

public sealed record CallTool(string Id, string Name, JsonObject Input) : Step;

/// <summary>One scripted model answer. <see cref="BeforeChunk"/> runs before each streamed text piece (to hold a stream open).</summary>
public sealed record ModelReply(IReadOnlyList<Step> Steps, int InputTokens = 12, int OutputTokens = 7, Func<int, CancellationToken, Task>? BeforeChunk = null)
{
    /// <summary>Text pieces produced while streaming (after the Say steps), e.g. stamped with the time they were sent.</summary>
    public Func<CancellationToken, IAsyncEnumerable<string>>? Live { get; init; }

    public static ModelReply Text(string text, int inputTokens = 12, int outputTokens = 7) => new([new Say(text)], inputTokens, outputTokens);

    public static ModelReply Tool(string id, string name, JsonObject input) => new([new CallTool(id, name, input)]);
}

/// <summary>A request as the fake received it, with helpers over both protocols' message shapes.</summary>
public sealed record ModelCall(string Protocol, string ApiKey, JsonObject Body)
{
    public bool Streaming => Body["stream"]?.GetValue<bool>() == true;

    public bool HasTools => Body["tools"] is JsonArray { Count: > 0 };

    public JsonArray Messages => Body["messages"] as JsonArray ?? [];

    public string System => Protocol == "anthropic"
        ? Body["system"] switch
        {
            JsonValue v => v.GetValue<string>(),
            JsonArray blocks => string.Join("\n", blocks.Select(b => (string?)b?["text"])),
            _ => "",
        }
        : string.Join("\n", Messages.Where(m => (string?)m?["role"] is "system" or "developer").Select(m => Text(m!["content"])));

    /// <summary>The text of the user messages (not tool results), in order.</summary>
    public IReadOnlyList<string> UserTexts => [.. Messages
        .Where(m => (string?)m?["role"] == "user")
        .Select(m => Text(m!["content"]))
        .Where(t => t.Length > 0)];

    /// <summary>The content of the tool result for <paramref name="callId"/> anywhere in the request.</summary>
    public string? ToolResult(string callId)
    {
        foreach (var message in Messages)
        {
            if (Protocol == "openai")
            {
                if ((string?)message?["role"] == "tool" && (string?)message["tool_call_id"] == callId)
                {
                    return Text(message["content"]);
                }
                continue;
            }
            if (message?["content"] is JsonArray blocks)
            {
                foreach (var block in blocks)
                {
                    if ((string?)block?["type"] == "tool_result" && (string?)block["tool_use_id"] == callId)
                    {
                        return Text(block["content"]);
                    }
                }
            }
        }
        return null;
    }

    private static string Text(JsonNode? content) => content switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray blocks => string.Join("", blocks.Where(b => (string?)b?["type"] == "text").Select(b => (string?)b!["text"])),
        _ => "",
    };
}

/// <summary>
/// A local model server speaking both the Anthropic Messages API (<c>POST /v1/messages</c>,
/// streaming SSE: message_start, content_block_start/delta/stop with text_delta and
/// input_json_delta, message_delta, message_stop) and OpenAI Chat Completions
/// (<c>POST /v1/chat/completions</c>, streamed chunks with tool_calls deltas and a usage chunk).
/// Replies come from a per-test script; every request is recorded.
/// </summary>
public sealed class FakeLlm : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Func<ModelCall, CancellationToken, Task<ModelReply>> _script;
    private readonly ConcurrentQueue<ModelCall> _calls = new();
    private int _counter;

    private FakeLlm(Func<ModelCall, CancellationToken, Task<ModelReply>> script)
    {
        _script = script;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public string ApiKey { get; } = $"sk-test-{Guid.NewGuid():N}";
    public string Url { get; private set; } = "";
    public IReadOnlyList<ModelCall> Calls => [.. _calls];
    /// <summary>Conversation calls (with tools); the others are summaries.</summary>
    public IReadOnlyList<ModelCall> AgentCalls => [.. _calls.Where(c => c.HasTools)];

    public static async Task<FakeLlm> StartAsync(Func<ModelCall, CancellationToken, Task<ModelReply>> script)
    {
        var fake = new FakeLlm(script);
        await fake._app.StartAsync();
        fake.Url = fake._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return fake;
    }

    public static Task<FakeLlm> StartAsync(Func<ModelCall, ModelReply> script) => StartAsync((call, _) => Task.FromResult(script(call)));

    /// <summary>The <c>base_url</c> of a profile of <paramref name="provider"/> pointing here.</summary>
    public string BaseUrl(string provider) => provider == "anthropic" ? Url : Url + "/v1";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var protocol = path switch
        {
            "/v1/messages" => "anthropic",
            "/v1/chat/completions" => "openai",
            _ => null,
        };
        if (protocol is null || context.Request.Method != "POST")
        {
            context.Response.StatusCode = 404;
            return;
        }
        // The Anthropic API takes x-api-key; the official C# SDK (13.x) sends the key as a bearer token.
        var bearer = context.Request.Headers.Authorization.ToString().Replace("Bearer ", "", StringComparison.Ordinal);
        var key = protocol == "anthropic" && context.Request.Headers["x-api-key"].ToString() is { Length: > 0 } apiKey ? apiKey : bearer;
        if (protocol == "anthropic" && string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = "invalid_request_error", ["message"] = "anthropic-version header is required" } });
            return;
        }
        if (key != ApiKey)
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsJsonAsync(protocol == "anthropic"
                ? new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = "authentication_error", ["message"] = "invalid x-api-key" } }
                : new JsonObject { ["error"] = new JsonObject { ["message"] = "Incorrect API key provided", ["type"] = "invalid_request_error", ["code"] = "invalid_api_key" } });
            return;
        }
        var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!;
        var call = new ModelCall(protocol, key, body);
        _calls.Enqueue(call);
        ModelReply reply;
        try
        {
            reply = await _script(call, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var id = Interlocked.Increment(ref _counter);
        var model = (string?)body["model"] ?? "fake";
        try
        {
            if (protocol == "anthropic")
            {
                await AnthropicAsync(context, $"msg_{id:D4}", model, reply, call.Streaming);
            }
            else
            {
                await OpenAiAsync(context, $"chatcmpl-{id:D4}", model, reply, call.Streaming);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static IEnumerable<string> Pieces(string text)
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

    private static async Task AnthropicAsync(HttpContext context, string id, string model, ModelReply reply, bool streaming)
    {
        var ct = context.RequestAborted;
        var stop = reply.Steps.Any(s => s is CallTool) ? "tool_use" : "end_turn";
        JsonObject Usage(int output) => new() { ["input_tokens"] = reply.InputTokens, ["cache_creation_input_tokens"] = 0, ["cache_read_input_tokens"] = 0, ["output_tokens"] = output };
        if (!streaming)
        {
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = id,
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = model,
                ["content"] = new JsonArray([.. reply.Steps.Select(s => (JsonNode)(s switch
                {
                    Say t => new JsonObject { ["type"] = "text", ["text"] = t.Text },
                    CallTool c => new JsonObject { ["type"] = "tool_use", ["id"] = c.Id, ["name"] = c.Name, ["input"] = c.Input.DeepClone() },
                    _ => throw new InvalidOperationException(),
                }))]),
                ["stop_reason"] = stop,
                ["stop_sequence"] = null,
                ["usage"] = Usage(reply.OutputTokens),
            }, ct);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        async Task SendAsync(string type, JsonObject data)
        {
            data["type"] = type;
            await context.Response.WriteAsync($"event: {type}\ndata: {data.ToJsonString()}\n\n", ct);
            await context.Response.Body.FlushAsync(ct);
        }
        await SendAsync("message_start", new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["id"] = id,
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = model,
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = Usage(1),
            },
        });
        var chunk = 0;
        for (var index = 0; index < reply.Steps.Count; index++)
        {
            switch (reply.Steps[index])
            {
                case Say say:
                    await SendAsync("content_block_start", new JsonObject { ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
                    foreach (var piece in Pieces(say.Text))
                    {
                        if (reply.BeforeChunk is { } gate)
                        {
                            await gate(chunk++, ct);
                        }
                        await SendAsync("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
                    }
                    break;
                case CallTool tool:
                    await SendAsync("content_block_start", new JsonObject
                    {
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = tool.Id, ["name"] = tool.Name, ["input"] = new JsonObject() },
                    });
                    var json = tool.Input.ToJsonString();
                    foreach (var part in new[] { json[..(json.Length / 2)], json[(json.Length / 2)..] })
                    {
                        await SendAsync("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = part } });
                    }
                    break;
            }
            await SendAsync("content_block_stop", new JsonObject { ["index"] = index });
        }
        if (reply.Live is { } live)
        {
            var index = reply.Steps.Count;
            await SendAsync("content_block_start", new JsonObject { ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
            await foreach (var piece in live(ct))
            {
                await SendAsync("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
            }
            await SendAsync("content_block_stop", new JsonObject { ["index"] = index });
        }
        await SendAsync("message_delta", new JsonObject
        {
            ["delta"] = new JsonObject { ["stop_reason"] = stop, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = reply.OutputTokens },
        });
        await SendAsync("message_stop", []);
    }

    private static async Task OpenAiAsync(HttpContext context, string id, string model, ModelReply reply, bool streaming)
    {
        var ct = context.RequestAborted;
        var finish = reply.Steps.Any(s => s is CallTool) ? "tool_calls" : "stop";
        var usage = new JsonObject { ["prompt_tokens"] = reply.InputTokens, ["completion_tokens"] = reply.OutputTokens, ["total_tokens"] = reply.InputTokens + reply.OutputTokens };
        var tools = reply.Steps.OfType<CallTool>().ToList();
        var text = string.Concat(reply.Steps.OfType<Say>().Select(s => s.Text));
        if (!streaming)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = text.Length > 0 ? text : null };
            if (tools.Count > 0)
            {
                message["tool_calls"] = new JsonArray([.. tools.Select(t => (JsonNode)new JsonObject
                {
                    ["id"] = t.Id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = t.Name, ["arguments"] = t.Input.ToJsonString() },
                })]);
            }
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = id,
                ["object"] = "chat.completion",
                ["created"] = 1_700_000_000,
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finish }),
                ["usage"] = usage,
            }, ct);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        async Task ChunkAsync(JsonObject? delta, string? finishReason, JsonObject? usageChunk = null)
        {
            var data = new JsonObject { ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = model };
            data["choices"] = delta is null && finishReason is null
                ? new JsonArray()
                : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta ?? new JsonObject(), ["finish_reason"] = finishReason });
            if (usageChunk is not null)
            {
                data["usage"] = usageChunk;
            }
            await context.Response.WriteAsync($"data: {data.ToJsonString()}\n\n", ct);
            await context.Response.Body.FlushAsync(ct);
        }
        await ChunkAsync(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
        var chunk = 0;
        foreach (var piece in Pieces(text))
        {
            if (reply.BeforeChunk is { } gate)
            {
                await gate(chunk++, ct);
            }
            await ChunkAsync(new JsonObject { ["content"] = piece }, null);
        }
        if (reply.Live is { } live)
        {
            await foreach (var piece in live(ct))
            {
                await ChunkAsync(new JsonObject { ["content"] = piece }, null);
            }
        }
        for (var index = 0; index < tools.Count; index++)
        {
            var tool = tools[index];
            await ChunkAsync(new JsonObject
            {
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = index,
                    ["id"] = tool.Id,
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = tool.Name, ["arguments"] = "" },
                }),
            }, null);
            var json = tool.Input.ToJsonString();
            foreach (var part in new[] { json[..(json.Length / 2)], json[(json.Length / 2)..] })
            {
                await ChunkAsync(new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = index, ["function"] = new JsonObject { ["arguments"] = part } }) }, null);
            }
        }
        await ChunkAsync(new JsonObject(), finish);
        await ChunkAsync(null, null, usage);
        await context.Response.WriteAsync("data: [DONE]\n\n", ct);
        await context.Response.Body.FlushAsync(ct);
    }
}
