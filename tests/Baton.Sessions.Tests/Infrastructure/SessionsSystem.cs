using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Sessions.Tests.Infrastructure;

/// <summary>
/// The whole system through the gateway with a config directory of its own (BATON_CONFIG_DIR) and a private tmux
/// server (TMUX_TMPDIR), shared by the tests of one class. Agent profiles: <c>shell</c> (bash, singleton),
/// <c>cat</c> (cat, not a singleton), and a malformed <c>bad.toml</c>.
/// </summary>
public sealed class SessionsSystem : IAsyncLifetime
{
    public const string BadProfileLine = "agents/bad.toml:3";

    public TempDir Config { get; } = new("bt-cfg-");
    public TempDir WorkDir { get; } = new("bt-wd-");
    public TmuxServer Tmux { get; } = new();
    public BatonSystem System { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Config.Write("agents/shell.toml", "name = \"Shell\"\nshell = \"/bin/bash --norc --noprofile\"\ncli_type = \"codex\"\nmodel = \"gpt-test\"\nskills = [\"git-flow\", \"missing\"]\n");
        Config.Write("agents/cat.toml", "name = \"Cat\"\nshell = \"cat\"\nsingleton = false\n");
        Config.Write("agents/bad.toml", "name = \"Bad\"\n# a comment\nshell = = 3\n");
        Config.Write("skills/git-flow/SKILL.md", "---\nname: git-flow\ndescription: Branching the team's way\nlicense: MIT\n---\nUse branches.\n");
        Directory.CreateDirectory(Path.Combine(Config.Path, "skills/git-flow/scripts"));
        Config.Write("plans/2026-01-26-sample.org", "#+TITLE: Sample Plan\n#+SUBTITLE: Example\n#+DATE: 2026-01-26\n#+KEYWORDS: plans,test\n\n* WIP [#A] First L1\nBody one.\n\n** TODO [#B] L2 One\nDetails.\n\n** DONE [#C] L2 Two\n* TODO Second L1\n");
        var options = new BatonLaunchOptions { WorkDir = WorkDir.Path };
        options.Environment["BATON_CONFIG_DIR"] = Config.Path;
        options.Environment["TMUX_TMPDIR"] = Tmux.TmpDir;
        // An empty TMUX makes tmux use TMUX_TMPDIR even when the tests themselves run inside tmux.
        options.Environment["TMUX"] = "";
        System = await BatonSystem.StartAsync(options);
        Http = System.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (System is not null)
        {
            await System.DisposeAsync();
        }
        Tmux.Dispose();
        Config.Dispose();
        WorkDir.Dispose();
    }

    public Task<SessionSocket> ConnectAsync(string sessionId, long? cursor = null) => SessionSocket.ConnectAsync(System.GatewayUrl, System.Token, sessionId, cursor);

    public static string SessionPath(string id, string action = "") => "/api/sessions/" + Uri.EscapeDataString(id) + (action.Length > 0 ? "/" + action : "");

    public async Task<(int Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? body = null, string? contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = contentType is null ? null : MediaTypeHeaderValue.Parse(contentType);
        }
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try
        {
            json = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
            json = JsonValue.Create(text);
        }
        return ((int)response.StatusCode, json);
    }

    public async Task<(int Status, JsonNode? Body)> SendBytesAsync(string path, byte[] body, string contentType = "application/octet-stream")
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await Http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try
        {
            json = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
            json = JsonValue.Create(text);
        }
        return ((int)response.StatusCode, json);
    }

    /// <summary>Writes a profile of this test's own (agent id and name unique), picked up when a session asks for it.
    /// <paramref name="shell"/> goes into a TOML literal string: no single quotes.</summary>
    public string NewProfile(string shell, bool singleton = true)
    {
        var id = "p" + Guid.NewGuid().ToString("N")[..8];
        Config.Write($"agents/{id}.toml", $"name = \"{id}\"\nshell = '{shell}'\nsingleton = {(singleton ? "true" : "false")}\n");
        return id;
    }

    /// <summary>Starts a session and returns its id (201 asserted).</summary>
    public async Task<string> CreateSessionAsync(string agent, string runner = "server")
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "/api/sessions", new JsonObject { ["agent"] = agent, ["runner"] = runner }.ToJsonString());
        Assert.True(status == 201, $"POST /api/sessions {agent}/{runner}: {status} {body?.ToJsonString()}");
        return (string)body!["id"]!;
    }

    public async Task DeleteSessionAsync(string id)
    {
        var (status, body) = await SendAsync(HttpMethod.Delete, SessionPath(id));
        Assert.True(status is 204 or 404, $"DELETE {id}: {status} {body?.ToJsonString()}");
    }

    /// <summary>Waits until the session's /output contains <paramref name="text"/>.</summary>
    public Task WaitForOutputAsync(string id, string text) => Eventually.WaitAsync(async () =>
    {
        var (status, body) = await SendAsync(HttpMethod.Get, SessionPath(id, "output"));
        return status == 200 && body!["lines"]!.AsArray().Any(l => ((string?)l)?.Contains(text, StringComparison.Ordinal) == true);
    }, TimeSpan.FromSeconds(30), $"'{text}' in the output of {id}");
}
