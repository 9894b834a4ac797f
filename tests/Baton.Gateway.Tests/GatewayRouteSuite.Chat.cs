using System.Net.WebSockets;
using System.Text.Json.Nodes;
using static System.Net.HttpStatusCode;

namespace Baton.Gateway.Tests;

// 001_*: chats, profiles, permissions, sandbox config and the chat WebSocket. The model behind every
// chat is the fixture's FakeAnthropic (a local server speaking the Anthropic Messages API); errors are
// FastAPI's {"detail": "..."}.
public sealed partial class GatewayRouteSuite
{
    private const string Masked = "********";

    private static RouteRow[] ChatRows() =>
    [
        // ---- chats ----
        Row("POST /api/chats",
            async c =>
            {
                var workspace = Directory.CreateDirectory(Path.Combine(c.Root, "made-" + Guid.NewGuid().ToString("N")[..8])).FullName;
                var created = await c.SendJsonAsync("POST", "/api/chats", new { workspace, profile = c.ChatProfile }, Created);
                var id = (string)created!["chat_id"]!;
                Assert.True(Guid.TryParse(id, out _), id);
                Assert.Equal(workspace, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{id}", null, OK))!["workspace"]);
                // No body: the default profile and a fresh workspace under the data folder.
                var bare = (string)(await c.SendJsonAsync("POST", "/api/chats", null, Created))!["chat_id"]!;
                Assert.StartsWith(c.System.DataDir, (string)(await c.SendJsonAsync("GET", $"/api/chats/{bare}", null, OK))!["workspace"]!, StringComparison.Ordinal);
                Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{bare}/profile", null, OK))!["profile_name"]);
            },
            c => c.ErrorAsync("POST", "/api/chats", BadRequest, new { workspace = "relative/dir" }, mentions: "absolute"),
            c => c.ErrorAsync("POST", "/api/chats", BadRequest, new { workspace = Path.Combine(c.Root, "no-such-dir") }, mentions: "directory"),
            c => c.ErrorAsync("POST", "/api/chats", NotFound, new { profile = "no-such-profile" }, mentions: "no-such-profile"),
            c => c.ErrorAsync("POST", "/api/chats", BadRequest, "{\"workspace\":"),
            c => c.ErrorAsync("POST", "/api/chats", Unauthorized, new { }, authenticated: false)),
        Row("GET /api/chats",
            async c => Assert.Contains((await c.SendJsonAsync("GET", "/api/chats", null, OK))!["chats"]!.AsArray(), x => (string?)x!["chat_id"] == c.ChatId),
            c => c.ErrorAsync("GET", "/api/chats", Unauthorized, authenticated: false)),
        Row("GET /api/chats/{chat_id}",
            async c =>
            {
                var id = await c.NewChatAsync();
                await c.ChatTurnAsync(id, "ping");
                var transcript = (await c.SendJsonAsync("GET", $"/api/chats/{id}", null, OK))!;
                Assert.Equal(id, (string?)transcript["chat_id"]);
                var turns = transcript["turns"]!.AsArray();
                Assert.Equal(["user", "assistant"], turns.Select(t => (string?)t!["role"]));
                Assert.Equal("ping", (string?)turns[0]!["content"]![0]!["text"]);
                Assert.Equal(RouteSuiteFixture.FakeAnthropic.Reply, (string?)turns[1]!["content"]![0]!["text"]);
            },
            c => c.ErrorAsync("GET", $"/api/chats/{Unknown}", NotFound, mentions: "not found")),
        Row("DELETE /api/chats/{chat_id}",
            async c =>
            {
                var id = await c.NewChatAsync();
                Assert.True((bool)(await c.SendJsonAsync("DELETE", $"/api/chats/{id}", null, OK))!["deleted"]!);
                await c.ErrorAsync("GET", $"/api/chats/{id}", NotFound);
                Assert.DoesNotContain((await c.SendJsonAsync("GET", "/api/chats", null, OK))!["chats"]!.AsArray(), x => (string?)x!["chat_id"] == id);
            },
            c => c.ErrorAsync("DELETE", $"/api/chats/{Unknown}", NotFound)),
        Row("GET /api/chats/{chat_id}/context",
            async c =>
            {
                var id = await c.NewChatAsync(await c.NewChatProfileAsync("ctx", contextWindow: 50_000));
                var before = (await c.SendJsonAsync("GET", $"/api/chats/{id}/context", null, OK))!;
                Assert.Equal((50_000L, 0.75), ((long)before["context_window"]!, (double)before["compaction_threshold"]!));
                await c.ChatTurnAsync(id, "ping");
                // After a turn: what the provider reported (40 in, 6 out).
                Assert.Equal(46, (long)(await c.SendJsonAsync("GET", $"/api/chats/{id}/context", null, OK))!["current_tokens"]!);
            },
            c => c.ErrorAsync("GET", $"/api/chats/{Unknown}/context", NotFound)),
        Row("POST /api/chats/{chat_id}/compact",
            async c =>
            {
                var id = await c.NewChatAsync();
                Assert.Equal(0, (int)(await c.SendJsonAsync("POST", $"/api/chats/{id}/compact", null, OK))!["turns_removed"]!);
                for (var i = 1; i <= 5; i++)
                {
                    await c.ChatTurnAsync(id, $"exchange {i}");
                }
                var compacted = (await c.SendJsonAsync("POST", $"/api/chats/{id}/compact", null, OK))!;
                // The first exchange (its user message and answer) is summarised; the last four stay verbatim.
                Assert.Equal(2, (int)compacted["turns_removed"]!);
                Assert.True((long)compacted["tokens_before"]! > 0 && (long)compacted["tokens_after"]! > 0, compacted.ToJsonString());
                var transcript = (await c.SendJsonAsync("GET", $"/api/chats/{id}", null, OK))!;
                Assert.Equal(RouteSuiteFixture.FakeAnthropic.Summary, (string?)transcript["summary"]);
                Assert.Equal("exchange 2", (string?)transcript["turns"]![0]!["content"]![0]!["text"]);
            },
            c => c.ErrorAsync("POST", $"/api/chats/{Unknown}/compact", NotFound),
            c => WhileATurnRunsAsync(c, id => c.ErrorAsync("POST", $"/api/chats/{id}/compact", Conflict, mentions: "turn"))),
        Row("POST /api/chats/{chat_id}/cancel",
            c => WhileATurnRunsAsync(c, async id => Assert.True((bool)(await c.SendJsonAsync("POST", $"/api/chats/{id}/cancel", null, OK))!["cancelled"]!)),
            async c => Assert.False((bool)(await c.SendJsonAsync("POST", $"/api/chats/{c.ChatId}/cancel", null, OK))!["cancelled"]!),
            c => c.ErrorAsync("POST", $"/api/chats/{Unknown}/cancel", NotFound)),
        Row("GET /api/chats/{chat_id}/profile",
            async c => Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{c.ChatId}/profile", null, OK))!["profile_name"]),
            c => c.ErrorAsync("GET", $"/api/chats/{Unknown}/profile", NotFound)),
        Row("PUT /api/chats/{chat_id}/profile",
            async c =>
            {
                var id = await c.NewChatAsync();
                var other = await c.NewChatProfileAsync("switch");
                Assert.Equal(other, (string?)(await c.SendJsonAsync("PUT", $"/api/chats/{id}/profile", new { profile_name = other }, OK))!["profile_name"]);
                Assert.Equal(other, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{id}/profile", null, OK))!["profile_name"]);
                // The switched-to profile answers the next turn.
                Assert.Contains(await c.ChatTurnAsync(id, "ping"), e => (string?)e["type"] == "agent.text_delta");
            },
            c => c.ErrorAsync("PUT", $"/api/chats/{c.ChatId}/profile", NotFound, new { profile_name = "no-such-profile" }, mentions: "no-such-profile"),
            c => c.ErrorAsync("PUT", $"/api/chats/{c.ChatId}/profile", BadRequest, new { }, mentions: "profile_name"),
            c => c.ErrorAsync("PUT", $"/api/chats/{Unknown}/profile", NotFound, new { profile_name = c.ChatProfile })),
        Row("GET /api/chats/{chat_id}/active-profile",
            async c => Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{c.ChatId}/active-profile", null, OK))!["profile_name"]),
            c => c.ErrorAsync("GET", $"/api/chats/{Unknown}/active-profile", NotFound)),
        Row("POST /api/chats/{chat_id}/active-profile",
            async c =>
            {
                var id = await c.NewChatAsync();
                var other = await c.NewChatProfileAsync("active");
                Assert.Equal(other, (string?)(await c.SendJsonAsync("POST", $"/api/chats/{id}/active-profile", new { profile_name = other }, OK))!["profile_name"]);
                Assert.Equal(other, (string?)(await c.SendJsonAsync("GET", $"/api/chats/{id}/profile", null, OK))!["profile_name"]);
            },
            c => c.ErrorAsync("POST", $"/api/chats/{c.ChatId}/active-profile", NotFound, new { profile_name = "no-such-profile" })),
        Row("GET /ws/{chat_id}", ChatWebSocketAsync,
            c => c.ErrorAsync("GET", $"/ws/{c.ChatId}", BadRequest, mentions: "WebSocket"),
            c => ChatSocketClosedAsync(c, Unknown, null, (WebSocketCloseStatus)4004, "Chat not found"),
            c => ChatSocketClosedAsync(c, c.ChatId, "not-the-token", (WebSocketCloseStatus)4001, "Unauthorized")),

        // ---- profiles ----
        Row("GET /api/profiles",
            async c =>
            {
                var list = (await c.SendJsonAsync("GET", "/api/profiles", null, OK))!;
                Assert.Equal(c.ChatProfile, (string?)list["default"]);
                var profile = list["profiles"]![c.ChatProfile]!;
                Assert.Equal(("anthropic", Masked), ((string?)profile["provider"], (string?)profile["api_key"]));
            },
            c => c.ErrorAsync("GET", "/api/profiles", Unauthorized, authenticated: false)),
        Row("POST /api/profiles",
            async c =>
            {
                var name = "new-" + Guid.NewGuid().ToString("N")[..8];
                var created = (await c.SendJsonAsync("POST", "/api/profiles", new { name, profile = new { provider = "openai", model = "gpt-x", api_key = "sk-secret-value", base_url = "http://127.0.0.1:9/v1" } }, Created))!;
                Assert.Equal(name, (string?)created["name"]);
                Assert.Equal(("gpt-x", Masked), ((string?)created["profile"]!["model"], (string?)created["profile"]!["api_key"]));
                Assert.Null(created["profile"]!["context_window"]);
            },
            c => c.ErrorAsync("POST", "/api/profiles", BadRequest, new { name = "x", profile = new { provider = "gemini", model = "m" } }, mentions: "provider"),
            c => c.ErrorAsync("POST", "/api/profiles", BadRequest, new { name = "x", profile = new { provider = "openai" } }, mentions: "model"),
            c => c.ErrorAsync("POST", "/api/profiles", BadRequest, new { name = "bad/name", profile = new { provider = "openai", model = "m" } }, mentions: "name"),
            c => c.ErrorAsync("POST", "/api/profiles", BadRequest, new { name = "x", profile = new { provider = "openai", model = "m", api_key = Masked } }, mentions: "api_key"),
            c => c.ErrorAsync("POST", "/api/profiles", Conflict, new { name = c.ChatProfile, profile = new { provider = "openai", model = "m" } }, mentions: "exists")),
        Row("GET /api/profiles/{name}",
            async c =>
            {
                var profile = (await c.SendJsonAsync("GET", $"/api/profiles/{c.ChatProfile}", null, OK))!;
                Assert.Equal(c.ChatProfile, (string?)profile["name"]);
                Assert.Equal((c.ChatModel.Url, Masked), ((string?)profile["profile"]!["base_url"], (string?)profile["profile"]!["api_key"]));
            },
            c => c.ErrorAsync("GET", "/api/profiles/no-such-profile", NotFound, mentions: "no-such-profile")),
        Row("PUT /api/profiles/{name}",
            async c =>
            {
                var name = await c.NewChatProfileAsync("upd");
                // The mask sent back keeps the stored key: a chat of the updated profile still reaches the model.
                var updated = (await c.SendJsonAsync("PUT", $"/api/profiles/{name}",
                    new { provider = "anthropic", model = "claude-renamed", base_url = c.ChatModel.Url, api_key = Masked, max_output_tokens = 1024 }, OK))!;
                Assert.Equal(("claude-renamed", 1024), ((string?)updated["profile"]!["model"], (int)updated["profile"]!["max_output_tokens"]!));
                var requests = c.ChatModel.Requests;
                Assert.Contains(await c.ChatTurnAsync(await c.NewChatAsync(name), "ping"), e => (string?)e["type"] == "agent.turn_complete");
                Assert.True(c.ChatModel.Requests > requests);
            },
            c => c.ErrorAsync("PUT", $"/api/profiles/{c.ChatProfile}", BadRequest, new { provider = "gemini", model = "m" }, mentions: "provider"),
            c => c.ErrorAsync("PUT", "/api/profiles/no-such-profile", NotFound, new { provider = "openai", model = "m" })),
        Row("DELETE /api/profiles/{name}",
            async c =>
            {
                var name = await c.NewChatProfileAsync("del");
                Assert.True((bool)(await c.SendJsonAsync("DELETE", $"/api/profiles/{name}", null, OK))!["deleted"]!);
                await c.ErrorAsync("GET", $"/api/profiles/{name}", NotFound);
            },
            c => c.ErrorAsync("DELETE", "/api/profiles/no-such-profile", NotFound),
            c => c.ErrorAsync("DELETE", $"/api/profiles/{c.ChatProfile}", BadRequest, mentions: "default")),
        Row("GET /api/profiles/default",
            async c => Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", "/api/profiles/default", null, OK))!["profile_name"]),
            c => c.ErrorAsync("GET", "/api/profiles/default", Unauthorized, authenticated: false)),
        Row("PUT /api/profiles/default",
            c => DefaultProfileRoundTripAsync(c, (name, expected) => c.SendJsonAsync("PUT", "/api/profiles/default", new { profile_name = name }, expected),
                name => c.SendJsonAsync("PUT", "/api/profiles/default", new { name }, OK)),
            c => c.ErrorAsync("PUT", "/api/profiles/default", NotFound, new { profile_name = "no-such-profile" }, mentions: "no-such-profile"),
            c => c.ErrorAsync("PUT", "/api/profiles/default", BadRequest, new { }, mentions: "profile_name")),
        Row("GET /api/profiles/default/current",
            async c => Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", "/api/profiles/default/current", null, OK))!["default"])),
        Row("POST /api/profiles/default/set",
            c => DefaultProfileRoundTripAsync(c, (name, expected) => c.SendJsonAsync("POST", "/api/profiles/default/set", new { profile_name = name }, expected), null),
            c => c.ErrorAsync("POST", "/api/profiles/default/set", NotFound, new { profile_name = "no-such-profile" })),

        // ---- permissions and the sandbox ----
        Row("GET /api/permissions",
            async c =>
            {
                var permissions = (await c.SendJsonAsync("GET", "/api/permissions", null, OK))!;
                Assert.Contains((string?)permissions["mode"], new[] { "interactive", "autonomous", "readonly" });
                Assert.IsType<JsonObject>(permissions["tool_overrides"]);
            },
            c => c.ErrorAsync("GET", "/api/permissions", Unauthorized, authenticated: false)),
        Row("PUT /api/permissions",
            async c =>
            {
                var before = (await c.SendJsonAsync("GET", "/api/permissions", null, OK))!;
                try
                {
                    var updated = (await c.SendJsonAsync("PUT", "/api/permissions", new { mode = "readonly", tool_overrides = new { grep = "allow" } }, OK))!;
                    Assert.Equal(("readonly", "allow"), ((string?)updated["mode"], (string?)updated["tool_overrides"]!["grep"]));
                    // A mode alone keeps the overrides.
                    Assert.Equal("allow", (string?)(await c.SendJsonAsync("PUT", "/api/permissions", new { mode = "autonomous" }, OK))!["tool_overrides"]!["grep"]);
                    Assert.Equal("autonomous", (string?)(await c.SendJsonAsync("GET", "/api/permissions", null, OK))!["mode"]);
                }
                finally
                {
                    await c.SendJsonAsync("PUT", "/api/permissions", before, OK);
                }
            },
            c => c.ErrorAsync("PUT", "/api/permissions", BadRequest, new { mode = "yolo" }, mentions: "mode"),
            c => c.ErrorAsync("PUT", "/api/permissions", BadRequest, new { tool_overrides = new { rm = "allow" } }, mentions: "rm"),
            c => c.ErrorAsync("PUT", "/api/permissions", BadRequest, new { tool_overrides = new { bash = "sometimes" } }, mentions: "sometimes")),
        Row("GET /api/permissions/tools",
            async c => Assert.Equal(["bash", "edit", "glob", "grep", "read", "write"],
                (await c.SendJsonAsync("GET", "/api/permissions/tools", null, OK))!["tools"]!.AsArray().Select(t => (string?)t).Order()),
            c => c.ErrorAsync("GET", "/api/permissions/tools", Unauthorized, authenticated: false)),
        Row("GET /api/config/sandbox",
            async c =>
            {
                var sandbox = (await c.SendJsonAsync("GET", "/api/config/sandbox", null, OK))!.AsObject();
                Assert.All(new[] { "enabled", "memory_limit", "cpu_quota", "timeout_seconds", "network_enabled", "workspace_mode" }, f => Assert.True(sandbox.ContainsKey(f), f));
                Assert.False((bool)sandbox["network_enabled"]!);
            },
            c => c.ErrorAsync("GET", "/api/config/sandbox", Unauthorized, authenticated: false)),
        Row("PUT /api/config/sandbox",
            async c =>
            {
                var before = (await c.SendJsonAsync("GET", "/api/config/sandbox", null, OK))!;
                try
                {
                    var updated = (await c.SendJsonAsync("PUT", "/api/config/sandbox", new { memory_limit = "256m", timeout_seconds = 20, workspace_mode = "ro" }, OK))!;
                    Assert.Equal(("256m", 20, "ro"), ((string?)updated["memory_limit"], (int)updated["timeout_seconds"]!, (string?)updated["workspace_mode"]));
                    Assert.Equal("ro", (string?)(await c.SendJsonAsync("GET", "/api/config/sandbox", null, OK))!["workspace_mode"]);
                }
                finally
                {
                    await c.SendJsonAsync("PUT", "/api/config/sandbox", before, OK);
                }
            },
            c => c.ErrorAsync("PUT", "/api/config/sandbox", BadRequest, new { workspace_mode = "rwx" }, mentions: "workspace_mode"),
            c => c.ErrorAsync("PUT", "/api/config/sandbox", BadRequest, new { memory_limit = "lots" }, mentions: "memory_limit"),
            c => c.ErrorAsync("PUT", "/api/config/sandbox", BadRequest, new { timeout_seconds = 0 }, mentions: "timeout_seconds"),
            c => c.ErrorAsync("PUT", "/api/config/sandbox", BadRequest, "{\"enabled\":\"yes\"}")),
    ];

    /// <summary>A turn through the gateway's WebSocket: streamed text, the turn's usage, envelopes with ids; then a resume after the last id.</summary>
    private static async Task ChatWebSocketAsync(RouteSuiteFixture c)
    {
        var id = await c.NewChatAsync();
        var events = await c.ChatTurnAsync(id, "ping");
        Assert.Equal(RouteSuiteFixture.FakeAnthropic.Reply,
            string.Concat(events.Where(e => (string?)e["type"] == "agent.text_delta").Select(e => (string?)e["data"]!["text"])));
        var done = events[^1]["data"]!;
        Assert.Equal(("end_turn", 40L, 6L), ((string?)done["stop_reason"], (long)done["usage"]!["input_tokens"]!, (long)done["usage"]!["output_tokens"]!));
        Assert.All(events, e => Assert.True(e["id"] is JsonValue && DateTimeOffset.TryParse((string?)e["timestamp"], out _), e.ToJsonString()));

        // Reconnecting with after_id replays only what came later (the next turn), in order.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = await c.ConnectChatAsync(id, timeout.Token, afterId: (long)events[^1]["id"]!);
        await RouteSuiteFixture.SendChatAsync(socket, new JsonObject { ["type"] = "run", ["data"] = new JsonObject { ["message"] = "again", ["stream"] = true } }, timeout.Token);
        var next = await RouteSuiteFixture.ReceiveChatUntilAsync(socket, "agent.turn_complete", timeout.Token);
        Assert.All(next, e => Assert.True((long)e["id"]! > (long)events[^1]["id"]!));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    /// <summary>An upgrade the chat bridge accepts only to close with a 001_* code (Clotho's 4001 Unauthorized, 4004 Chat not found).</summary>
    private static async Task ChatSocketClosedAsync(RouteSuiteFixture c, string chatId, string? token, WebSocketCloseStatus expected, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await c.ConnectChatAsync(chatId, timeout.Token, token);
        var result = await socket.ReceiveAsync(new byte[1024], timeout.Token);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((expected, reason), (socket.CloseStatus, socket.CloseStatusDescription));
    }

    /// <summary>Runs <paramref name="during"/> while a turn of a new chat is held open by the model; the turn is cancelled at the end.</summary>
    private static async Task WhileATurnRunsAsync(RouteSuiteFixture c, Func<string, Task> during)
    {
        var id = await c.NewChatAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = await c.ConnectChatAsync(id, timeout.Token);
        await RouteSuiteFixture.SendChatAsync(socket, new JsonObject { ["type"] = "user_message", ["content"] = "HOLD on", ["stream"] = true }, timeout.Token);
        await RouteSuiteFixture.ReceiveChatUntilAsync(socket, "agent.text_delta", timeout.Token);
        await during(id);
        await c.SendJsonAsync("POST", $"/api/chats/{id}/cancel", null, OK);
        await RouteSuiteFixture.ReceiveChatUntilAsync(socket, "agent.cancelled", timeout.Token);
        await Eventually.WaitAsync(async () => (await c.SendJsonAsync("GET", "/api/chats", null, OK))!["chats"]!.AsArray()
            .Any(x => (string?)x!["chat_id"] == id && (string?)x["status"] == "idle"), TimeSpan.FromSeconds(30), "the cancelled chat is idle again");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    /// <summary>Sets another profile as the default, checks it is, and puts the suite's own back (also through <paramref name="alias"/>).</summary>
    private static async Task DefaultProfileRoundTripAsync(RouteSuiteFixture c, Func<string, System.Net.HttpStatusCode, Task<JsonNode?>> set, Func<string, Task<JsonNode?>>? alias)
    {
        var other = await c.NewChatProfileAsync("dflt");
        try
        {
            Assert.Equal(other, (string?)(await set(other, OK))!["profile_name"]);
            Assert.Equal(other, (string?)(await c.SendJsonAsync("GET", "/api/profiles/default", null, OK))!["profile_name"]);
            Assert.Equal(other, (string?)(await c.SendJsonAsync("GET", "/api/profiles", null, OK))!["default"]);
            if (alias is not null)
            {
                await alias(c.ChatProfile);
                Assert.Equal(c.ChatProfile, (string?)(await c.SendJsonAsync("GET", "/api/profiles/default/current", null, OK))!["default"]);
            }
        }
        finally
        {
            await set(c.ChatProfile, OK);
        }
    }
}
