using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Chat.Tests.Infrastructure;

/// <summary>
/// The whole Baton system, started once for the chat system tests, with a repo-roots allow-list
/// every test workspace lives under and a short approval timeout.
/// </summary>
public sealed class ChatSystem : IAsyncLifetime
{
    public const int ApprovalTimeoutSeconds = 15;

    public BatonSystem System { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    /// <summary>The only root under which chats may have a workspace (BATON_REPO_ROOTS).</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("baton-chat-root-").FullName;

    public async Task InitializeAsync()
    {
        var options = new BatonLaunchOptions();
        options.Environment["BATON_REPO_ROOTS"] = Root;
        options.Environment["BATON_CHAT_APPROVAL_TIMEOUT_SECONDS"] = ApprovalTimeoutSeconds.ToString();
        System = await BatonSystem.StartAsync(options);
        Http = System.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (Environment.GetEnvironmentVariable("BATON_TEST_LOG") is { Length: > 0 } log)
        {
            await File.WriteAllTextAsync(log, System.Output);
        }
        await System.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }

    public string NewWorkspace()
    {
        var path = Path.Combine(Root, "ws-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Creates a profile pointing at <paramref name="fake"/> and returns its name.</summary>
    public async Task<string> ProfileAsync(FakeLlm fake, string provider, int? contextWindow = null)
    {
        var name = $"{provider}-{Guid.NewGuid():N}"[..24];
        var profile = new JsonObject
        {
            ["provider"] = provider,
            ["model"] = provider == "anthropic" ? "claude-test" : "gpt-test",
            ["base_url"] = fake.BaseUrl(provider),
            ["api_key"] = fake.ApiKey,
        };
        if (contextWindow is { } window)
        {
            profile["context_window"] = window;
        }
        using var response = await Http.PostAsJsonAsync("/api/profiles", new JsonObject { ["name"] = name, ["profile"] = profile });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return name;
    }

    public async Task<string> ChatAsync(string profile, string? workspace = null)
    {
        using var response = await Http.PostAsJsonAsync("/api/chats", new JsonObject { ["workspace"] = workspace ?? NewWorkspace(), ["profile"] = profile });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        return (string)body!["chat_id"]!;
    }

    public async Task SetPermissionsAsync(string mode, JsonObject? overrides = null)
    {
        using var response = await Http.PutAsJsonAsync("/api/permissions", new JsonObject { ["mode"] = mode, ["tool_overrides"] = overrides ?? new JsonObject() });
        response.EnsureSuccessStatusCode();
    }

    public async Task<JsonObject> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }
}

[CollectionDefinition(Name)]
public sealed class ChatSystemCollection : ICollectionFixture<ChatSystem>
{
    public const string Name = "chat system";
}
