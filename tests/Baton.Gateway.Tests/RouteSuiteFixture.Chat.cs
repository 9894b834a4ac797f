using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Gateway.Tests;

// What the chat rows need from the system: a local model server speaking the Anthropic Messages API,
// a profile pointing at it (the first, so the default) and a chat that uses it.
public sealed partial class RouteSuiteFixture
{
    public FakeAnthropic ChatModel { get; private set; } = null!;
    /// <summary>The default profile (anthropic, at <see cref="ChatModel"/>); rows that change the default put it back.</summary>
    public string ChatProfile { get; private set; } = "";
    /// <summary>A chat of <see cref="ChatProfile"/> with a workspace under <see cref="Root"/>.</summary>
    public string ChatId { get; private set; } = "";

    private async Task ConfigureChatAsync(BatonLaunchOptions options)
    {
        _ = options;
        ChatModel = await FakeAnthropic.StartAsync();
    }

    private async Task SeedChatAsync()
    {
        ChatProfile = await NewChatProfileAsync("routes");
        ChatId = await NewChatAsync();
    }

    private async ValueTask DisposeChatAsync()
    {
        if (ChatModel is not null)
        {
            await ChatModel.DisposeAsync();
        }
    }

    /// <summary>A profile of the fake model; its name starts with <paramref name="prefix"/>.</summary>
    public async Task<string> NewChatProfileAsync(string prefix = "p", int contextWindow = 100_000)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
        var profile = new JsonObject
        {
            ["provider"] = "anthropic",
            ["model"] = "claude-route-suite",
            ["base_url"] = ChatModel.Url,
            ["api_key"] = ChatModel.ApiKey,
            ["context_window"] = contextWindow,
        };
        await SendJsonAsync("POST", "/api/profiles", new JsonObject { ["name"] = name, ["profile"] = profile }, HttpStatusCode.Created);
        return name;
    }

    /// <summary>A chat (of <see cref="ChatProfile"/> unless told) with a fresh workspace under <see cref="Root"/>.</summary>
    public async Task<string> NewChatAsync(string? profile = null)
    {
        var workspace = Directory.CreateDirectory(Path.Combine(Root, "chat-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var created = await SendJsonAsync("POST", "/api/chats", new JsonObject { ["workspace"] = workspace, ["profile"] = profile ?? ChatProfile }, HttpStatusCode.Created);
        return (string)created!["chat_id"]!;
    }

    /// <summary>Opens <c>WS /ws/{chat_id}?token=</c> as a 001_* client does (the token in the query).</summary>
    public async Task<ClientWebSocket> ConnectChatAsync(string chatId, CancellationToken cancellationToken, string? token = null, long? afterId = null)
    {
        var socket = new ClientWebSocket();
        var query = "token=" + Uri.EscapeDataString(token ?? System.Token) + (afterId is { } after ? $"&after_id={after}" : "");
        await socket.ConnectAsync(new UriBuilder(System.GatewayUrl) { Scheme = "ws", Path = $"/ws/{chatId}", Query = query }.Uri, cancellationToken);
        return socket;
    }

    /// <summary>One turn over the chat's WebSocket: the user message, then every event up to and including <paramref name="until"/>.</summary>
    public async Task<List<JsonObject>> ChatTurnAsync(string chatId, string content, string until = "agent.turn_complete")
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = await ConnectChatAsync(chatId, timeout.Token);
        await SendChatAsync(socket, new JsonObject { ["type"] = "user_message", ["content"] = content, ["stream"] = true }, timeout.Token);
        var events = await ReceiveChatUntilAsync(socket, until, timeout.Token);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        return events;
    }

    public static Task SendChatAsync(ClientWebSocket socket, JsonObject message, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancellationToken);

    /// <summary>Receives events until one of type <paramref name="type"/> (included); fails on an <c>agent.error</c> or a close.</summary>
    public static async Task<List<JsonObject>> ReceiveChatUntilAsync(ClientWebSocket socket, string type, CancellationToken cancellationToken)
    {
        var events = new List<JsonObject>();
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            Assert.True(result.MessageType != WebSocketMessageType.Close,
                $"closed {socket.CloseStatus} {socket.CloseStatusDescription} before {type}; got {string.Join(", ", events.Select(e => (string?)e["type"]))}");
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }
            var frame = JsonNode.Parse(message.ToArray())!.AsObject();
            message.SetLength(0);
            events.Add(frame);
            if ((string?)frame["type"] == type)
            {
                return events;
            }
            Assert.True((string?)frame["type"] != "agent.error" || type == "agent.error", $"agent.error before {type}: {frame.ToJsonString()}");
        }
    }

    /// <summary>
    /// A local server speaking the Anthropic Messages API (<c>POST /v1/messages</c>): streamed answers as
    /// message_start, content_block_start/delta (text_delta)/stop, message_delta with usage, message_stop;
    /// plain JSON answers when not streaming (the compaction summary). A user message containing
    /// <c>HOLD</c> is answered with one piece of text and then held open until the caller hangs up.
    /// </summary>
    public sealed class FakeAnthropic : IAsyncDisposable
    {
        public const string Reply = "pong from the fake model";
        public const string Summary = "summary of the earlier turns";
        private readonly WebApplication _app;
        private int _requests;

        private FakeAnthropic()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            _app = builder.Build();
            _app.MapPost("/v1/messages", HandleAsync);
        }

        public string ApiKey { get; } = $"sk-route-{Guid.NewGuid():N}";
        public string Url { get; private set; } = "";
        /// <summary>Requests with the right key (so a row can tell the model was really called).</summary>
        public int Requests => Volatile.Read(ref _requests);

        public static async Task<FakeAnthropic> StartAsync()
        {
            var fake = new FakeAnthropic();
            await fake._app.StartAsync();
            fake.Url = fake._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return fake;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private async Task HandleAsync(HttpContext context)
        {
            var ct = context.RequestAborted;
            var key = context.Request.Headers["x-api-key"].ToString();
            if (key.Length == 0)
            {
                key = context.Request.Headers.Authorization.ToString().Replace("Bearer ", "", StringComparison.Ordinal);
            }
            if (key != ApiKey)
            {
                context.Response.StatusCode = 401;
                await context.Response.WriteAsJsonAsync(new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = "authentication_error", ["message"] = "invalid x-api-key" } }, ct);
                return;
            }
            Interlocked.Increment(ref _requests);
            var body = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: ct))!.AsObject();
            var model = (string?)body["model"] ?? "fake";
            var id = $"msg_{Guid.NewGuid():N}";
            JsonObject Usage(int output) => new() { ["input_tokens"] = 40, ["cache_creation_input_tokens"] = 0, ["cache_read_input_tokens"] = 0, ["output_tokens"] = output };
            if (body["stream"]?.GetValue<bool>() != true)
            {
                var text = body["tools"] is JsonArray { Count: > 0 } ? Reply : Summary;
                await context.Response.WriteAsJsonAsync(new JsonObject
                {
                    ["id"] = id,
                    ["type"] = "message",
                    ["role"] = "assistant",
                    ["model"] = model,
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text }),
                    ["stop_reason"] = "end_turn",
                    ["stop_sequence"] = null,
                    ["usage"] = Usage(6),
                }, ct);
                return;
            }
            var hold = body["messages"] is JsonArray { Count: > 0 } messages && messages[^1]!.ToJsonString().Contains("HOLD", StringComparison.Ordinal);
            context.Response.ContentType = "text/event-stream";
            async Task SendAsync(string type, JsonObject data)
            {
                data["type"] = type;
                await context.Response.WriteAsync($"event: {type}\ndata: {data.ToJsonString()}\n\n", ct);
                await context.Response.Body.FlushAsync(ct);
            }
            try
            {
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
                await SendAsync("content_block_start", new JsonObject { ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
                if (hold)
                {
                    await SendAsync("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = "holding " } });
                    // Held until the chat service hangs up (a cancelled turn).
                    await Task.Delay(Timeout.Infinite, ct);
                }
                foreach (var piece in Reply.Split(' ').Select((w, i) => i == 0 ? w : " " + w))
                {
                    await SendAsync("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
                }
                await SendAsync("content_block_stop", new JsonObject { ["index"] = 0 });
                await SendAsync("message_delta", new JsonObject
                {
                    ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null },
                    ["usage"] = new JsonObject { ["output_tokens"] = 6 },
                });
                await SendAsync("message_stop", []);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
