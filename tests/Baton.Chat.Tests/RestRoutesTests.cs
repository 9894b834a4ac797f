using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Chat.Tests.Infrastructure;

namespace Baton.Chat.Tests;

/// <summary>The 001_* REST routes through the gateway: shapes, masking, and bad input answered with 4xx {"detail"}.</summary>
[Collection(ChatSystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class RestRoutesTests(ChatSystem chat)
{
    [Fact]
    public async Task Profiles_MaskTheKey_KeepItOnAMaskedWrite_AndNeverStoreItInPlaintext()
    {
        var key = $"sk-plaintext-probe-{Guid.NewGuid():N}";
        var name = $"p-{Guid.NewGuid():N}"[..20];
        using var created = await chat.Http.PostAsJsonAsync("/api/profiles", new JsonObject
        {
            ["name"] = name,
            ["profile"] = new JsonObject { ["provider"] = "openai", ["model"] = "gpt-x", ["api_key"] = key, ["base_url"] = "http://127.0.0.1:9/v1", ["context_window"] = 8000 },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(name, (string)body["name"]!);
        Assert.Equal("********", (string)body["profile"]!["api_key"]!);
        Assert.Equal(8000, (int)body["profile"]!["context_window"]!);
        Assert.Null(body["profile"]!["max_output_tokens"]);

        var list = await chat.GetJsonAsync("/api/profiles");
        Assert.Equal("********", (string)list["profiles"]![name]!["api_key"]!);
        Assert.True(list.ContainsKey("default"));

        // Sending the mask back keeps the stored key: the agent still authenticates with it.
        using var updated = await chat.Http.PutAsJsonAsync($"/api/profiles/{name}", new JsonObject { ["provider"] = "openai", ["model"] = "gpt-y", ["api_key"] = "********" });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal("gpt-y", (string)(await chat.GetJsonAsync($"/api/profiles/{name}"))["profile"]!["model"]!);

        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("hi"));
        var keyed = $"k-{Guid.NewGuid():N}"[..20];
        using (var withKey = await chat.Http.PostAsJsonAsync("/api/profiles", new JsonObject
        {
            ["name"] = keyed,
            ["profile"] = new JsonObject { ["provider"] = "anthropic", ["model"] = "m", ["api_key"] = fake.ApiKey, ["base_url"] = fake.BaseUrl("anthropic") },
        }))
        {
            withKey.EnsureSuccessStatusCode();
        }
        using (var masked = await chat.Http.PutAsJsonAsync($"/api/profiles/{keyed}", new JsonObject { ["provider"] = "anthropic", ["model"] = "m2", ["api_key"] = "********", ["base_url"] = fake.BaseUrl("anthropic") }))
        {
            masked.EnsureSuccessStatusCode();
        }
        var chatId = await chat.ChatAsync(keyed);
        await using (var socket = await ChatSocket.ConnectAsync(chat.System, chatId))
        {
            await socket.SayAsync("hello");
            await socket.WaitForTypeAsync("agent.turn_complete");
            Assert.DoesNotContain(socket.Events, e => (string?)e["type"] == "agent.error");
        }
        Assert.All(fake.Calls, c => Assert.Equal(fake.ApiKey, c.ApiKey));

        // Nothing under the data folder (databases, WAL, logs) holds either key in plaintext.
        foreach (var file in Directory.EnumerateFiles(chat.System.DataDir, "*", SearchOption.AllDirectories))
        {
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(file);
            }
            catch (IOException)
            {
                continue;
            }
            Assert.False(Contains(bytes, key), $"{file} holds the API key in plaintext");
            Assert.False(Contains(bytes, fake.ApiKey), $"{file} holds the API key in plaintext");
        }
        Assert.DoesNotContain(key, chat.System.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(fake.ApiKey, chat.System.Output, StringComparison.Ordinal);
    }

    private static bool Contains(byte[] haystack, string needle)
    {
        return haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0 || haystack.AsSpan().IndexOf(Encoding.Unicode.GetBytes(needle)) >= 0;
    }

    [Fact]
    public async Task DefaultProfile_AndChatProfile_RoundTrip_WithAliases()
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("x"));
        var first = await chat.ProfileAsync(fake, "anthropic");
        var second = await chat.ProfileAsync(fake, "openai");
        using (var set = await chat.Http.PutAsJsonAsync("/api/profiles/default", new { profile_name = first }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }
        Assert.Equal(first, (string)(await chat.GetJsonAsync("/api/profiles/default"))["profile_name"]!);
        using (var alias = await chat.Http.PutAsJsonAsync("/api/profiles/default", new { name = second }))
        {
            Assert.Equal(HttpStatusCode.OK, alias.StatusCode);
        }
        Assert.Equal(second, (string)(await chat.GetJsonAsync("/api/profiles/default"))["default"]!);

        using (var deleteDefault = await chat.Http.DeleteAsync($"/api/profiles/{second}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, deleteDefault.StatusCode);
            Assert.Contains("default", (string)(await deleteDefault.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!);
        }

        using var created = await chat.Http.PostAsJsonAsync("/api/chats", new { workspace = chat.NewWorkspace() });
        var chatId = (string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["chat_id"]!;
        Assert.Equal(second, (string)(await chat.GetJsonAsync($"/api/chats/{chatId}/profile"))["profile_name"]!);
        using (var put = await chat.Http.PutAsJsonAsync($"/api/chats/{chatId}/profile", new { profile_name = first }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        Assert.Equal(first, (string)(await chat.GetJsonAsync($"/api/chats/{chatId}/profile"))["profile_name"]!);
        using (var missing = await chat.Http.PutAsJsonAsync($"/api/chats/{chatId}/profile", new { profile_name = "no-such-profile" }))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }
        using (var deleted = await chat.Http.DeleteAsync($"/api/profiles/{first}"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }
        using (var gone = await chat.Http.GetAsync($"/api/profiles/{first}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
    }

    [Fact]
    public async Task Chats_CreateListContextDelete()
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("x"));
        var profile = await chat.ProfileAsync(fake, "anthropic", contextWindow: 50_000);
        var chatId = await chat.ChatAsync(profile);
        var list = await chat.GetJsonAsync("/api/chats");
        Assert.Contains(list["chats"]!.AsArray(), c => (string)c!["chat_id"]! == chatId);
        var context = await chat.GetJsonAsync($"/api/chats/{chatId}/context");
        Assert.Equal(50_000, (long)context["context_window"]!);
        Assert.Equal(0.75, (double)context["compaction_threshold"]!);
        Assert.True((long)context["current_tokens"]! >= 0);

        using var deleted = await chat.Http.DeleteAsync($"/api/chats/{chatId}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.True((bool)(await deleted.Content.ReadFromJsonAsync<JsonObject>())!["deleted"]!);
        using var again = await chat.Http.GetAsync($"/api/chats/{chatId}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task DefaultWorkspace_IsAFreshFolderUnderTheDataDir_RemovedWithTheChat()
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("x"));
        var profile = await chat.ProfileAsync(fake, "anthropic");
        using var created = await chat.Http.PostAsJsonAsync("/api/chats", new { profile });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var chatId = (string)(await created.Content.ReadFromJsonAsync<JsonObject>())!["chat_id"]!;
        var workspace = (string)(await chat.GetJsonAsync($"/api/chats/{chatId}"))["workspace"]!;
        Assert.StartsWith(chat.System.DataDir, workspace);
        Assert.True(Directory.Exists(workspace));
        Assert.Empty(Directory.EnumerateFileSystemEntries(workspace));
        using var deleted = await chat.Http.DeleteAsync($"/api/chats/{chatId}");
        Assert.False(Directory.Exists(workspace));
    }

    [Fact]
    public async Task Permissions_AndTools_AndSandbox_RoundTrip()
    {
        var tools = await chat.GetJsonAsync("/api/permissions/tools");
        Assert.Equal(["bash", "edit", "glob", "grep", "read", "write"], tools["tools"]!.AsArray().Select(t => (string)t!));

        using (var put = await chat.Http.PutAsJsonAsync("/api/permissions", new { mode = "autonomous", tool_overrides = new { bash = "ask" } }))
        {
            var body = (await put.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("autonomous", (string)body["mode"]!);
            Assert.Equal("ask", (string)body["tool_overrides"]!["bash"]!);
        }
        using (var modeOnly = await chat.Http.PutAsJsonAsync("/api/permissions", new { mode = "interactive" }))
        {
            var body = (await modeOnly.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal("ask", (string)body["tool_overrides"]!["bash"]!);
        }
        await chat.SetPermissionsAsync("interactive");

        var sandbox = await chat.GetJsonAsync("/api/config/sandbox");
        foreach (var field in new[] { "enabled", "memory_limit", "cpu_quota", "timeout_seconds", "network_enabled", "workspace_mode" })
        {
            Assert.True(sandbox.ContainsKey(field), field);
        }
        using var update = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { memory_limit = "256m", timeout_seconds = 20 });
        var updated = (await update.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("256m", (string)updated["memory_limit"]!);
        Assert.Equal(20, (int)updated["timeout_seconds"]!);
        Assert.False((bool)updated["enabled"]!);
        using var reset = await chat.Http.PutAsJsonAsync("/api/config/sandbox", new { memory_limit = "512m", timeout_seconds = 30 });
    }

    public static TheoryData<string, string, string?, HttpStatusCode> BadRequests() => new()
    {
        { "POST", "/api/chats", "{\"workspace\":\"relative/dir\"}", HttpStatusCode.BadRequest },
        { "POST", "/api/chats", "{\"workspace\":\"/etc\"}", HttpStatusCode.Forbidden },
        { "POST", "/api/chats", "{\"profile\":\"no-such-profile\"}", HttpStatusCode.NotFound },
        { "POST", "/api/chats", "{\"workspace\":", HttpStatusCode.BadRequest },
        { "POST", "/api/chats", "{\"workspace\":42}", HttpStatusCode.BadRequest },
        { "POST", "/api/chats", "[]", HttpStatusCode.BadRequest },
        { "GET", "/api/chats/no-such-chat", null, HttpStatusCode.NotFound },
        { "DELETE", "/api/chats/no-such-chat", null, HttpStatusCode.NotFound },
        { "GET", "/api/chats/no-such-chat/context", null, HttpStatusCode.NotFound },
        { "POST", "/api/chats/no-such-chat/compact", null, HttpStatusCode.NotFound },
        { "POST", "/api/profiles", "{\"name\":\"x\",\"profile\":{\"provider\":\"gemini\",\"model\":\"m\"}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"x\",\"profile\":{\"provider\":\"openai\"}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"bad/name\",\"profile\":{\"provider\":\"openai\",\"model\":\"m\"}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"" + new string('n', 65) + "\",\"profile\":{\"provider\":\"openai\",\"model\":\"m\"}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"x\",\"profile\":{\"provider\":\"openai\",\"model\":\"m\",\"base_url\":\"ftp://h\"}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"x\",\"profile\":{\"provider\":\"openai\",\"model\":\"m\",\"context_window\":-1}}", HttpStatusCode.BadRequest },
        { "POST", "/api/profiles", "{\"name\":\"x\",\"profile\":{\"provider\":\"openai\",\"model\":\"m\",\"api_key\":\"********\"}}", HttpStatusCode.BadRequest },
        { "GET", "/api/profiles/no-such-profile", null, HttpStatusCode.NotFound },
        { "DELETE", "/api/profiles/no-such-profile", null, HttpStatusCode.NotFound },
        { "PUT", "/api/profiles/default", "{\"profile_name\":\"no-such-profile\"}", HttpStatusCode.NotFound },
        { "PUT", "/api/profiles/default", "{}", HttpStatusCode.BadRequest },
        { "PUT", "/api/permissions", "{\"mode\":\"yolo\"}", HttpStatusCode.BadRequest },
        { "PUT", "/api/permissions", "{\"tool_overrides\":{\"rm\":\"allow\"}}", HttpStatusCode.BadRequest },
        { "PUT", "/api/permissions", "{\"tool_overrides\":{\"bash\":\"sometimes\"}}", HttpStatusCode.BadRequest },
        { "PUT", "/api/permissions", "{\"tool_overrides\":{\"bash\":1}}", HttpStatusCode.BadRequest },
        { "PUT", "/api/config/sandbox", "{\"workspace_mode\":\"rwx\"}", HttpStatusCode.BadRequest },
        { "PUT", "/api/config/sandbox", "{\"memory_limit\":\"lots\"}", HttpStatusCode.BadRequest },
        { "PUT", "/api/config/sandbox", "{\"timeout_seconds\":0}", HttpStatusCode.BadRequest },
        { "PUT", "/api/config/sandbox", "{\"enabled\":\"yes\"}", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInput_Is4xxWithDetail(string method, string path, string? body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await chat.Http.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.False(string.IsNullOrWhiteSpace((string?)error["detail"]), error.ToJsonString());
    }

    [Fact]
    public async Task CreateChat_WithoutABody_UsesTheDefaults()
    {
        using var response = await chat.Http.PostAsync("/api/chats", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var chatId = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["chat_id"]!;
        Assert.True(Guid.TryParse(chatId, out _));
        using var deleted = await chat.Http.DeleteAsync($"/api/chats/{chatId}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
    }

    [Fact]
    public async Task ChatSocketRoute_WithoutAnUpgrade_Is400WithDetail()
    {
        using var response = await chat.Http.GetAsync($"/ws/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("WebSocket", (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!);
    }

    [Fact]
    public async Task ProfileNameClash_Is409()
    {
        await using var fake = await FakeLlm.StartAsync(_ => ModelReply.Text("x"));
        var name = await chat.ProfileAsync(fake, "openai");
        using var again = await chat.Http.PostAsJsonAsync("/api/profiles", new { name, profile = new { provider = "openai", model = "m" } });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }
}
