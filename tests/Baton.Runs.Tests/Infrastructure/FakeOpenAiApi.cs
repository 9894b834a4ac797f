using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>One scripted Responses API answer: output items (<see cref="FakeText"/> messages, <see cref="FakeToolUse"/> function calls) and usage.</summary>
public sealed record FakeResponse(IReadOnlyList<FakeBlock> Output, int InputTokens, int OutputTokens);

/// <summary>A request the CLI made to the fake OpenAI API, as received.</summary>
public sealed record OpenAiRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, JsonObject? Body)
{
    public bool Stream => Body?["stream"] is JsonValue v && v.TryGetValue<bool>(out var s) && s;

    public string? Model => Body?["model"] is JsonValue v && v.TryGetValue<string>(out var m) ? m : null;

    public JsonArray Input => Body?["input"] as JsonArray ?? [];

    public bool IsResponses => Method == "POST" && Path == "/v1/responses" && Body is not null;

    /// <summary>The output of the function call <paramref name="callId"/> in the input, if the CLI has sent it.</summary>
    public string? FunctionCallOutput(string callId) =>
        Input.FirstOrDefault(i => (string?)i?["type"] == "function_call_output" && (string?)i?["call_id"] == callId)?["output"]?.ToString();

    /// <summary>Every input item in order as "[role] text", "function_call:name {args}" or "function_call_output:output" (for "the model saw X" assertions).</summary>
    public string Transcript()
    {
        var text = new StringBuilder();
        foreach (var item in Input)
        {
            switch ((string?)item?["type"])
            {
                case "message":
                    text.Append('[').Append((string?)item!["role"]).Append("] ");
                    foreach (var part in item["content"] as JsonArray ?? [])
                    {
                        text.Append((string?)part?["text"]).Append(' ');
                    }
                    break;
                case "function_call":
                    text.Append("function_call:").Append((string?)item!["name"]).Append(' ').Append((string?)item["arguments"]);
                    break;
                case "function_call_output":
                    text.Append("function_call_output:").Append(item!["output"]?.ToString());
                    break;
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}

/// <summary>
/// A local server speaking the OpenAI Responses API as the Codex CLI uses it: <c>POST /v1/responses</c>
/// with <c>stream: true</c>, answered with SSE (response.created, per output item added/deltas/done,
/// response.completed with usage). It checks the bearer key, records every request and answers from a
/// per-test script; anything else gets a 404 so an unexpected call shows in the recorded requests.
/// </summary>
public sealed class FakeOpenAiApi : FakeModelApi<OpenAiRequest>
{
    private readonly Func<OpenAiRequest, CancellationToken, Task<FakeResponse>> _responses;
    private int _responseCounter;

    private FakeOpenAiApi(string apiKey, Func<OpenAiRequest, CancellationToken, Task<FakeResponse>> responses)
        : base(apiKey)
    {
        _responses = responses;
    }

    public IReadOnlyList<OpenAiRequest> ResponsesRequests => [.. Requests.Where(r => r.IsResponses)];

    public static async Task<FakeOpenAiApi> StartAsync(Func<OpenAiRequest, CancellationToken, Task<FakeResponse>> responses)
    {
        var api = new FakeOpenAiApi($"sk-test-{Guid.NewGuid():N}", responses);
        await api.ListenAsync();
        return api;
    }

    public static Task<FakeOpenAiApi> StartAsync(Func<OpenAiRequest, FakeResponse> responses) =>
        StartAsync((request, _) => Task.FromResult(responses(request)));

    protected override async Task HandleAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        if (context.Request.Headers.Authorization != $"Bearer {ApiKey}")
        {
            await ErrorAsync(context, StatusCodes.Status401Unauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
            return;
        }
        if (!request.IsResponses)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, "invalid_request_error", "not_found", $"no route {request.Method} {request.Path}");
            return;
        }
        FakeResponse response;
        try
        {
            response = await _responses(request, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        await StreamAsync(context, $"resp_fake_{Interlocked.Increment(ref _responseCounter):D4}", request.Model, response);
    }

    private async Task<OpenAiRequest> RecordAsync(HttpContext context)
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
        var request = new OpenAiRequest(context.Request.Method, context.Request.Path.Value ?? "/", headers, body);
        Record(request);
        return request;
    }

    private static Task ErrorAsync(HttpContext context, int status, string type, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code },
        }, context.RequestAborted);
    }

    private static JsonObject Item(FakeBlock block, int index, bool done) => block switch
    {
        FakeText t => new JsonObject
        {
            ["type"] = "message",
            ["id"] = $"msg_fake_{index}",
            ["role"] = "assistant",
            ["status"] = done ? "completed" : "in_progress",
            ["content"] = done ? new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = t.Text, ["annotations"] = new JsonArray() }) : new JsonArray(),
        },
        FakeToolUse u => new JsonObject
        {
            ["type"] = "function_call",
            ["id"] = $"fc_fake_{index}",
            ["call_id"] = u.Id,
            ["name"] = u.Name,
            ["arguments"] = done ? u.Input.ToJsonString() : "",
            ["status"] = done ? "completed" : "in_progress",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(block)),
    };

    private static async Task StreamAsync(HttpContext context, string id, string? model, FakeResponse response)
    {
        var ct = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var sequence = 0;
        async Task SendAsync(string type, JsonObject data)
        {
            data["type"] = type;
            data["sequence_number"] = sequence++;
            await context.Response.WriteAsync($"event: {type}\ndata: {data.ToJsonString()}\n\n", ct);
            await context.Response.Body.FlushAsync(ct);
        }

        JsonObject Envelope(string status) => new() { ["id"] = id, ["object"] = "response", ["status"] = status, ["model"] = model, ["output"] = new JsonArray() };

        await SendAsync("response.created", new JsonObject { ["response"] = Envelope("in_progress") });
        var output = new JsonArray();
        for (var index = 0; index < response.Output.Count; index++)
        {
            var block = response.Output[index];
            await SendAsync("response.output_item.added", new JsonObject { ["output_index"] = index, ["item"] = Item(block, index, done: false) });
            if (block is FakeText text)
            {
                foreach (var piece in text.Text.Chunk(8))
                {
                    await SendAsync("response.output_text.delta", new JsonObject { ["output_index"] = index, ["item_id"] = $"msg_fake_{index}", ["content_index"] = 0, ["delta"] = new string(piece) });
                }
            }
            var done = Item(block, index, done: true);
            await SendAsync("response.output_item.done", new JsonObject { ["output_index"] = index, ["item"] = done });
            output.Add(done.DeepClone());
        }
        var completed = Envelope("completed");
        completed["output"] = output;
        completed["usage"] = new JsonObject
        {
            ["input_tokens"] = response.InputTokens,
            ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
            ["output_tokens"] = response.OutputTokens,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
            ["total_tokens"] = response.InputTokens + response.OutputTokens,
        };
        await SendAsync("response.completed", new JsonObject { ["response"] = completed });
    }
}
