using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Baton.Chat.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Chat.Tests;

/// <summary>Turns through the gateway's WebSocket against local model fakes speaking both providers' protocols.</summary>
[Collection(ChatSystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class AgentTurnTests(ChatSystem chat)
{
    private static string Type(JsonObject e) => (string)e["type"]!;

    [Theory]
    [InlineData("anthropic")]
    [InlineData("openai")]
    public async Task ApprovedToolCall_RunsInTheWorkspace_AndItsOutputGoesBackToTheModel(string provider)
    {
        await using var fake = await FakeLlm.StartAsync(call => call.ToolResult("call_1") is null
            ? ModelReply.Tool("call_1", "bash", new JsonObject { ["command"] = "echo from-the-tool > made.txt && cat made.txt && pwd" })
            : ModelReply.Text("The file says from-the-tool.", inputTokens: 40, outputTokens: 9));
        await chat.SetPermissionsAsync("interactive");
        var workspace = chat.NewWorkspace();
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, provider), workspace);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);

        await socket.SayAsync("make a file");
        var request = await socket.WaitForTypeAsync("agent.tool_request");
        var calls = request["data"]!["tool_calls"]!.AsArray();
        Assert.Single(calls);
        Assert.Equal("call_1", (string)calls[0]!["id"]!);
        Assert.Equal("bash", (string)calls[0]!["name"]!);
        Assert.Contains("echo from-the-tool", (string)calls[0]!["arguments"]!["command"]!);
        Assert.False(File.Exists(Path.Combine(workspace, "made.txt")), "nothing runs before approval");

        await socket.SendAsync(new { type = "tool_approval", verdicts = new Dictionary<string, string> { ["call_1"] = "allow" } });
        var result = await socket.WaitForTypeAsync("agent.tool_result");
        Assert.Equal("call_1", (string)result["data"]!["tool_use_id"]!);
        Assert.Equal("bash", (string)result["data"]!["tool_name"]!);
        Assert.False((bool)result["data"]!["is_error"]!);
        Assert.Contains("from-the-tool", (string)result["data"]!["content"]!);
        Assert.Contains(workspace, (string)result["data"]!["content"]!);
        var done = await socket.WaitForTypeAsync("agent.turn_complete");
        Assert.Equal("end_turn", (string)done["data"]!["stop_reason"]!);
        Assert.True((long)done["data"]!["usage"]!["input_tokens"]! >= 40);
        Assert.True((long)done["data"]!["usage"]!["output_tokens"]! >= 9);

        Assert.Equal("from-the-tool\n", await File.ReadAllTextAsync(Path.Combine(workspace, "made.txt")));
        var second = fake.AgentCalls[^1];
        Assert.Contains("from-the-tool", second.ToolResult("call_1"));
        var streamed = string.Concat(socket.Events.Where(e => Type(e) == "agent.text_delta").Select(e => (string)e["data"]!["text"]!));
        Assert.Equal("The file says from-the-tool.", streamed);

        // Every event is an envelope with a timestamp and an increasing id.
        var ids = socket.Events.Select(e => (long)e["id"]!).ToList();
        Assert.Equal(ids.Order(), ids);
        Assert.All(socket.Events, e => Assert.True(DateTimeOffset.TryParse((string)e["timestamp"]!, out _)));

        // The transcript has the user message, the call, its result and the answer.
        var transcript = await chat.GetJsonAsync($"/api/chats/{chatId}");
        var turns = transcript["turns"]!.AsArray();
        Assert.Equal(["user", "assistant", "tool", "assistant"], turns.Select(t => (string)t!["role"]!));
        Assert.Equal("tool_use", (string)turns[1]!["content"]![0]!["type"]!);
    }

    [Fact]
    public async Task DeniedToolCall_IsNotRun_AndThreeDeniedBatchesStopTheTurn()
    {
        var counter = 0;
        await using var fake = await FakeLlm.StartAsync(_ =>
            ModelReply.Tool($"call_{Interlocked.Increment(ref counter)}", "write", new JsonObject { ["path"] = "denied.txt", ["content"] = "x" }));
        await chat.SetPermissionsAsync("interactive");
        var workspace = chat.NewWorkspace();
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"), workspace);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);

        await socket.SayAsync("write something");
        for (var round = 1; round <= 3; round++)
        {
            var request = await socket.WaitForAsync(e => Type(e) == "agent.tool_request" && (string)e["data"]!["tool_calls"]![0]!["id"]! == $"call_{round}");
            await socket.SendAsync(new { type = "tool_approval", verdicts = new Dictionary<string, string> { [$"call_{round}"] = "deny" } });
            var denied = await socket.WaitForAsync(e => Type(e) == "agent.tool_denied" && (string)e["data"]!["tool_calls"]![0]!["id"]! == $"call_{round}");
            Assert.Equal("user_deny", (string)denied["data"]!["reason"]!);
        }
        var error = await socket.WaitForTypeAsync("agent.error");
        Assert.Equal("tool_denied", (string)error["data"]!["code"]!);
        await socket.WaitForTypeAsync("agent.turn_complete");
        Assert.DoesNotContain(socket.Events, e => Type(e) == "agent.tool_result");
        Assert.False(File.Exists(Path.Combine(workspace, "denied.txt")));
        Assert.Equal(3, fake.AgentCalls.Count);
        Assert.Contains("denied", fake.AgentCalls[1].ToolResult("call_1"));
    }

    [Fact]
    public async Task ReadonlyMode_RunsReadsWithoutAsking_AndRefusesWrites()
    {
        await using var fake = await FakeLlm.StartAsync(call =>
            call.ToolResult("r1") is null ? new ModelReply([new CallTool("r1", "read", new JsonObject { ["path"] = "notes.txt" }), new CallTool("w1", "write", new JsonObject { ["path"] = "notes.txt", ["content"] = "overwritten" })])
            : ModelReply.Text("ok"));
        await chat.SetPermissionsAsync("readonly");
        var workspace = chat.NewWorkspace();
        await File.WriteAllTextAsync(Path.Combine(workspace, "notes.txt"), "original notes");
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "openai"), workspace);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);

        await socket.SayAsync("read and write");
        await socket.WaitForTypeAsync("agent.turn_complete");
        Assert.DoesNotContain(socket.Events, e => Type(e) == "agent.tool_request");
        var denied = socket.Events.Single(e => Type(e) == "agent.tool_denied");
        Assert.Equal("policy_deny", (string)denied["data"]!["reason"]!);
        Assert.Equal("w1", (string)denied["data"]!["tool_calls"]![0]!["id"]!);
        var read = socket.Events.Single(e => Type(e) == "agent.tool_result");
        Assert.Contains("original notes", (string)read["data"]!["content"]!);
        Assert.Equal("original notes", await File.ReadAllTextAsync(Path.Combine(workspace, "notes.txt")));
        Assert.Contains("not permitted", fake.AgentCalls[^1].ToolResult("w1"));
    }

    [Fact]
    public async Task FileTools_RefusePathsThatLeaveTheWorkspace()
    {
        var outside = Path.Combine(chat.Root, "outside-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(outside);
        await File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "outside secret");
        var workspace = chat.NewWorkspace();
        File.CreateSymbolicLink(Path.Combine(workspace, "link"), outside);
        await using var fake = await FakeLlm.StartAsync(call => call.ToolResult("a") is null
            ? new ModelReply([
                new CallTool("a", "read", new JsonObject { ["path"] = Path.Combine(outside, "secret.txt") }),
                new CallTool("b", "read", new JsonObject { ["path"] = "../" + Path.GetFileName(outside) + "/secret.txt" }),
                new CallTool("c", "read", new JsonObject { ["path"] = "link/secret.txt" }),
                new CallTool("d", "write", new JsonObject { ["path"] = "link/new.txt", ["content"] = "x" }),
                new CallTool("e", "write", new JsonObject { ["path"] = "sub/inside.txt", ["content"] = "fine" }),
            ])
            : ModelReply.Text("done"));
        await chat.SetPermissionsAsync("autonomous");
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"), workspace);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);

        await socket.SayAsync("escape");
        await socket.WaitForTypeAsync("agent.turn_complete");
        var results = socket.Events.Where(e => Type(e) == "agent.tool_result").ToDictionary(e => (string)e["data"]!["tool_use_id"]!, e => e["data"]!);
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            Assert.True((bool)results[id]["is_error"]!, id);
            Assert.DoesNotContain("outside secret", (string)results[id]["content"]!);
            Assert.Contains("outside the workspace", (string)results[id]["content"]!);
        }
        Assert.False((bool)results["e"]["is_error"]!);
        Assert.False(File.Exists(Path.Combine(outside, "new.txt")));
        Assert.Equal("fine", await File.ReadAllTextAsync(Path.Combine(workspace, "sub", "inside.txt")));
    }

    [Fact]
    public async Task Sandbox_RefusesWritesOutsideTheWorkspace_AndNetworkAccess()
    {
        var probe = $"/root/baton-sandbox-probe-{Guid.NewGuid():N}";
        var sibling = Path.Combine(chat.Root, "sibling-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(sibling);
        await using var fake = await FakeLlm.StartAsync(call => call.ToolResult("s1") is null
            ? new ModelReply([
                new CallTool("s1", "bash", new JsonObject { ["command"] = $"echo x > {probe}" }),
                new CallTool("s2", "bash", new JsonObject { ["command"] = $"echo x > {sibling}/escaped.txt" }),
                // The write happens before anything is backgrounded; the background sleep is killed with the sandbox when the call ends.
                new CallTool("s4", "bash", new JsonObject { ["command"] = "echo inside > in.txt && cat in.txt; sleep 300 & echo started" }),
                new CallTool("s5", "bash", new JsonObject { ["command"] = "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls " + chat.System.DataDir }),
            ])
            : ModelReply.Text("done"));
        var workspace = chat.NewWorkspace();
        using (var enable = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { enabled = true, network_enabled = false, workspace_mode = "rw", timeout_seconds = 30 }))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
            Assert.True((bool)(await enable.Content.ReadFromJsonAsync<JsonObject>())!["enabled"]!);
        }
        try
        {
            await chat.SetPermissionsAsync("autonomous");
            var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"), workspace);
            await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
            await socket.SayAsync("try to escape");
            await socket.WaitForTypeAsync("agent.turn_complete", timeout: TimeSpan.FromSeconds(90));
            var results = socket.Events.Where(e => Type(e) == "agent.tool_result").ToDictionary(e => (string)e["data"]!["tool_use_id"]!, e => (string)e["data"]!["content"]!);
            Assert.Contains("Read-only file system", results["s1"]);
            Assert.False(File.Exists(probe));
            Assert.False(File.Exists(Path.Combine(sibling, "escaped.txt")));
            Assert.Contains("started", results["s4"]);
            Assert.Equal("inside\n", await File.ReadAllTextAsync(Path.Combine(workspace, "in.txt")));
            // A PID namespace of its own, and Baton's data folder is hidden.
            Assert.Contains("bwrap", results["s5"]);
            Assert.DoesNotContain("chat.db", results["s5"]);
        }
        finally
        {
            using var disable = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { enabled = false });
        }
    }

    [Fact]
    public async Task Sandbox_RefusesNetworkEvenToTheHostLoopback()
    {
        await using var target = await FakeLlm.StartAsync(_ => ModelReply.Text("unused"));
        await using var fake = await FakeLlm.StartAsync(call => call.ToolResult("n1") is null
            ? new ModelReply([
                new CallTool("n1", "bash", new JsonObject { ["command"] = $"curl -s -m 5 -o /dev/null -w 'status=%{{http_code}}' {target.Url}/" }),
            ])
            : ModelReply.Text("done"));
        using (var enable = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { enabled = true, network_enabled = false }))
        {
            enable.EnsureSuccessStatusCode();
        }
        string sandboxed;
        try
        {
            await chat.SetPermissionsAsync("autonomous");
            var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "openai"));
            await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
            await socket.SayAsync("reach the network");
            var result = await socket.WaitForTypeAsync("agent.tool_result", timeout: TimeSpan.FromSeconds(60));
            sandboxed = (string)result["data"]!["content"]!;
        }
        finally
        {
            using var disable = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { enabled = false });
        }
        Assert.Contains("status=000", sandboxed);

        // The same command outside the sandbox reaches it: the refusal above is the sandbox's doing.
        await using var fake2 = await FakeLlm.StartAsync(call => call.ToolResult("n2") is null
            ? ModelReply.Tool("n2", "bash", new JsonObject { ["command"] = $"curl -s -m 5 -o /dev/null -w 'status=%{{http_code}}' {target.Url}/" })
            : ModelReply.Text("done"));
        var open = await chat.ChatAsync(await chat.ProfileAsync(fake2, "openai"));
        await using var socket2 = await ChatSocket.ConnectAsync(chat.System, open);
        await socket2.SayAsync("reach the network");
        var unsandboxed = await socket2.WaitForTypeAsync("agent.tool_result", timeout: TimeSpan.FromSeconds(60));
        Assert.Contains("status=404", (string)unsandboxed["data"]!["content"]!);
    }

    [Fact]
    public async Task DroppedSocket_TurnGoesOn_AndAfterIdReplaysExactlyWhatWasMissed()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var words = string.Join(" ", Enumerable.Range(1, 40).Select(i => $"w{i}"));
        await using var fake = await FakeLlm.StartAsync((call, ct) => Task.FromResult(new ModelReply([new Say(words)], BeforeChunk: async (chunk, token) =>
        {
            if (chunk == 5)
            {
                await gate.Task.WaitAsync(token);
            }
        })));
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"));
        var first = await ChatSocket.ConnectAsync(chat.System, chatId);
        await first.SayAsync("stream a lot");
        await first.WaitForAsync(e => Type(e) == "agent.text_delta" && (string)e["data"]!["text"]! == "w5 ");
        var seen = first.Events;
        var lastSeen = (long)seen[^1]["id"]!;
        first.Abort();
        await first.DisposeAsync();

        gate.SetResult();
        // The turn finishes with nobody connected.
        await Eventually.WaitAsync(async () => (string?)(await chat.GetJsonAsync("/api/chats"))["chats"]!.AsArray()
            .Single(c => (string)c!["chat_id"]! == chatId)!["status"] == "idle" && (await chat.GetJsonAsync($"/api/chats/{chatId}"))["turns"]!.AsArray().Count == 2,
            TimeSpan.FromSeconds(60), "the turn to complete server-side");

        await using var resumed = await ChatSocket.ConnectAsync(chat.System, chatId, afterId: lastSeen);
        await resumed.WaitForTypeAsync("agent.turn_complete");
        await using var everything = await ChatSocket.ConnectAsync(chat.System, chatId, afterId: 0);
        await everything.WaitForTypeAsync("agent.turn_complete");

        var all = everything.Events.Select(e => e.ToJsonString()).ToList();
        var stitched = seen.Concat(resumed.Events).Select(e => e.ToJsonString()).ToList();
        Assert.Equal(all, stitched);
        var text = string.Concat(everything.Events.Where(e => Type(e) == "agent.text_delta").Select(e => (string)e["data"]!["text"]!));
        Assert.Equal(words, text);
    }

    [Fact]
    public async Task ServiceRestartMidTurn_ClosesTheTurnAsInterrupted_AndTheChatGoesOn()
    {
        await using var fake = await FakeLlm.StartAsync(call => call.UserTexts[^1] == "first"
            ? ModelReply.Tool("pending", "bash", new JsonObject { ["command"] = "touch x" })
            : ModelReply.Text("second answer"));
        await chat.SetPermissionsAsync("interactive");
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"));
        long lastSeen;
        await using (var socket = await ChatSocket.ConnectAsync(chat.System, chatId))
        {
            await socket.SayAsync("first");
            var request = await socket.WaitForTypeAsync("agent.tool_request");
            lastSeen = (long)request["id"]!;
        }
        await chat.System.StopServiceAsync("chat");
        await chat.System.StartServiceAsync("chat");

        await using var resumed = await ChatSocket.ConnectAsync(chat.System, chatId, afterId: lastSeen);
        var error = await resumed.WaitForTypeAsync("agent.error");
        Assert.Equal("interrupted", (string)error["data"]!["code"]!);
        await resumed.WaitForTypeAsync("agent.turn_complete");
        var from = resumed.Events.Count;
        await resumed.SayAsync("second");
        await resumed.WaitForTypeAsync("agent.turn_complete", from);
        var text = string.Concat(resumed.Events.Skip(from).Where(e => Type(e) == "agent.text_delta").Select(e => (string)e["data"]!["text"]!));
        Assert.Equal("second answer", text);
        Assert.Contains("interrupted", fake.AgentCalls[^1].ToolResult("pending"));
    }

    [Fact]
    public async Task MessagesSentDuringATurn_QueueInOrder()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fake = await FakeLlm.StartAsync(async (call, ct) =>
        {
            var last = call.UserTexts[^1];
            if (last == "one")
            {
                await gate.Task.WaitAsync(ct);
            }
            return ModelReply.Text("answer to " + last);
        });
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "openai"));
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        await socket.SayAsync("one", stream: false);
        await Eventually.WaitAsync(() => Task.FromResult(fake.AgentCalls.Count == 1), what: "the first model call");
        await socket.SayAsync("two", stream: false);
        await socket.SayAsync("three", stream: false);
        gate.SetResult();
        await Eventually.WaitAsync(() => Task.FromResult(socket.Events.Count(e => Type(e) == "agent.turn_complete") == 3), TimeSpan.FromSeconds(60), "three turns");
        var texts = socket.Events.Where(e => Type(e) == "agent.text").Select(e => (string)e["data"]!["text"]!).ToList();
        Assert.Equal(["answer to one", "answer to two", "answer to three"], texts);
        Assert.Equal(["one", "two", "three"], fake.AgentCalls[^1].UserTexts);
    }

    [Fact]
    public async Task ApprovalTimeout_EndsTheTurnWithApprovalTimeout()
    {
        await using var fake = await FakeLlm.StartAsync(call => call.ToolResult("t1") is null
            ? ModelReply.Tool("t1", "bash", new JsonObject { ["command"] = "touch never.txt" })
            : ModelReply.Text("unused"));
        await chat.SetPermissionsAsync("interactive");
        var workspace = chat.NewWorkspace();
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"), workspace);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        await socket.SayAsync("run it");
        await socket.WaitForTypeAsync("agent.tool_request");
        var error = await socket.WaitForTypeAsync("agent.error", timeout: TimeSpan.FromSeconds(ChatSystem.ApprovalTimeoutSeconds + 45));
        Assert.Equal("approval_timeout", (string)error["data"]!["code"]!);
        await socket.WaitForTypeAsync("agent.turn_complete");
        Assert.False(File.Exists(Path.Combine(workspace, "never.txt")));
    }

    [Fact]
    public async Task Cancel_StopsTheRunningTurn()
    {
        await using var fake = await FakeLlm.StartAsync(async (call, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return ModelReply.Text("never");
        });
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"));
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        await socket.SayAsync("hang");
        await Eventually.WaitAsync(() => Task.FromResult(fake.AgentCalls.Count == 1), what: "the model call");
        await socket.SendAsync(new { type = "cancel" });
        var cancelled = await socket.WaitForTypeAsync("agent.cancelled");
        Assert.NotNull(cancelled["data"]!["message"]);
    }

    [Fact]
    public async Task ConcurrentChats_AreIsolated()
    {
        await chat.SetPermissionsAsync("autonomous");
        var fakes = new List<FakeLlm>();
        var sockets = new List<(ChatSocket Socket, string Workspace, string Marker)>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var marker = $"marker{i}x{Guid.NewGuid():N}"[..20];
                var fake = await FakeLlm.StartAsync(call => call.ToolResult("c") is null
                    ? ModelReply.Tool("c", "write", new JsonObject { ["path"] = "mine.txt", ["content"] = marker })
                    : ModelReply.Text($"{marker} one two three four five six"));
                fakes.Add(fake);
                var workspace = chat.NewWorkspace();
                var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, i % 2 == 0 ? "anthropic" : "openai"), workspace);
                sockets.Add((await ChatSocket.ConnectAsync(chat.System, chatId), workspace, marker));
            }
            await Task.WhenAll(sockets.Select(s => s.Socket.SayAsync("go")));
            await Task.WhenAll(sockets.Select(s => s.Socket.WaitForTypeAsync("agent.turn_complete")));
            foreach (var (socket, workspace, marker) in sockets)
            {
                Assert.Equal(marker, await File.ReadAllTextAsync(Path.Combine(workspace, "mine.txt")));
                var text = string.Concat(socket.Events.Where(e => Type(e) == "agent.text_delta").Select(e => (string)e["data"]!["text"]!));
                Assert.Equal($"{marker} one two three four five six", text);
                foreach (var other in sockets.Where(o => o.Marker != marker))
                {
                    Assert.DoesNotContain(socket.Events, e => e.ToJsonString().Contains(other.Marker, StringComparison.Ordinal));
                }
            }
        }
        finally
        {
            foreach (var (socket, _, _) in sockets)
            {
                await socket.DisposeAsync();
            }
            foreach (var fake in fakes)
            {
                await fake.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("anthropic")]
    [InlineData("openai")]
    public async Task ProviderRejectingTheKey_IsAnErrorEvent_AndTheTurnCompletes(string provider)
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("unused"));
        var name = $"badkey-{Guid.NewGuid():N}"[..20];
        using (var created = await chat.Http.PostAsJsonAsync("/api/profiles", new JsonObject
        {
            ["name"] = name,
            ["profile"] = new JsonObject { ["provider"] = provider, ["model"] = "m", ["base_url"] = fake.BaseUrl(provider), ["api_key"] = "wrong-key" },
        }))
        {
            created.EnsureSuccessStatusCode();
        }
        var chatId = await chat.ChatAsync(name);
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        await socket.SayAsync("hello");
        var error = await socket.WaitForTypeAsync("agent.error");
        Assert.Equal("provider_error", (string)error["data"]!["code"]!);
        var done = await socket.WaitForTypeAsync("agent.turn_complete");
        Assert.Equal("error", (string)done["data"]!["stop_reason"]!);
    }

    [Fact]
    public async Task BadToken_ClosesWith4001_AndUnknownChat_With4004()
    {
        await using var bad = await ChatSocket.ConnectAsync(chat.System, Guid.NewGuid().ToString(), token: "not-the-token");
        await bad.WaitClosedAsync();
        Assert.Equal((WebSocketCloseStatus)4001, bad.CloseStatus);

        await using var unknown = await ChatSocket.ConnectAsync(chat.System, Guid.NewGuid().ToString());
        await unknown.WaitClosedAsync();
        Assert.Equal((WebSocketCloseStatus)4004, unknown.CloseStatus);
        Assert.Equal("Chat not found", unknown.CloseDescription);
    }

    [Fact]
    public async Task MalformedClientMessages_AnswerInvalidEvent_AndTheSocketStaysUsable()
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("fine"));
        var chatId = await chat.ChatAsync(await chat.ProfileAsync(fake, "anthropic"));
        await using var socket = await ChatSocket.ConnectAsync(chat.System, chatId);
        string[] bad = ["not json", "[1,2]", "{\"type\":\"user_message\",\"content\":\"a\",\"content\":\"b\"}", "{\"type\":\"nope\"}",
            "{\"type\":\"user_message\",\"content\":\"\"}", "{\"type\":\"tool_approval\",\"verdicts\":{\"x\":\"allow\"}}", "{\"type\":\"user_message\",\"content\":\"\\ud800\"}"];
        foreach (var message in bad)
        {
            await socket.SendRawAsync(message);
        }
        await Eventually.WaitAsync(() => Task.FromResult(socket.Events.Count(e => Type(e) == "agent.error") == bad.Length), what: "one error per bad message");
        Assert.All(socket.Events, e => Assert.Equal("invalid_event", (string)e["data"]!["code"]!));
        await socket.SendAsync(new { type = "run", data = new { message = "alias shape", stream = false } });
        var text = await socket.WaitForTypeAsync("agent.text");
        Assert.Equal("fine", (string)text["data"]!["text"]!);
        Assert.Equal("alias shape", fake.AgentCalls[^1].UserTexts[^1]);
    }
}
