using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Foundation.Tests.EndToEnd;
using Baton.Testing;

namespace Baton.Foundation.Tests.Hardening;

/// <summary>
/// Issue 13's defects, each probed through the gateway as a client would: strict JSON, size caps,
/// git argument injection, secrets in responses. Every answer is a 4xx with a short message; the
/// system stays up and its state unchanged.
/// </summary>
[Collection(SystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class HardeningThroughGatewayTests(SystemFixture fx)
{
    private static readonly string[] BadBodies =
    [
        """{"name":"a","name":"b"}""",
        """{"name":"\ud800"}""",
        """{"providers":[],"providers":[]}""",
        """{"discord_webhook_url":"","discord_webhook_url":""}""",
        """{"name":"unterminated""",
        """[1,2,""",
    ];

    [Theory]
    [InlineData("PUT", "/api/settings/models")]
    [InlineData("PUT", "/api/settings/notifications")]
    [InlineData("POST", "/api/projects")]
    [InlineData("POST", "/api/agents")]
    [InlineData("POST", "/api/runs")]
    public async Task MalformedJson_Is400WithAMessage_NeverA500(string method, string path)
    {
        using var http = fx.System.CreateClient();
        foreach (var body in BadBodies)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Text.Json(body) });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path} {body} → {(int)response.StatusCode} {text}");
            Assert.Contains("JSON", text, StringComparison.Ordinal);
        }
        using var invalidUtf8 = new ByteArrayContent([(byte)'{', (byte)'"', (byte)'n', (byte)'"', (byte)':', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)'}']);
        invalidUtf8.Headers.ContentType = new("application/json");
        using var bytes = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = invalidUtf8 });
        Assert.Equal(HttpStatusCode.BadRequest, bytes.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/ready")).StatusCode);
    }

    [Fact]
    public async Task DuplicateKeys_DoNotChangeStoredSettings()
    {
        using var http = fx.System.CreateClient();
        var before = await http.GetStringAsync("/api/settings/notifications");
        using var response = await http.PutAsync("/api/settings/notifications",
            Text.Json("""{"discord_webhook_url":"https://a.example/x","discord_webhook_url":"https://b.example/y"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, await http.GetStringAsync("/api/settings/notifications"));
    }

    [Fact]
    public async Task OversizedBodies_Are413_AndOverlongFields_Are400_QuotingOnlyAPrefix()
    {
        using var http = fx.System.CreateClient();
        var fiveMegabytes = new string('n', 5 * 1024 * 1024);
        // As a client uploading a large body does: Content-Length and Expect: 100-continue, so the 413
        // arrives before the body is sent (sending it anyway races the gateway closing the connection).
        using var hugeRequest = new HttpRequestMessage(HttpMethod.Post, "/api/projects")
        {
            Content = JsonContent.Create(new { name = fiveMegabytes }),
        };
        await hugeRequest.Content.LoadIntoBufferAsync();
        hugeRequest.Headers.ExpectContinue = true;
        using var huge = await http.SendAsync(hugeRequest);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.True((await huge.Content.ReadAsStringAsync()).Length < 2048);

        using var longName = await http.PostAsJsonAsync("/api/projects", new { name = new string('n', 100_000) });
        var text = await longName.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, longName.StatusCode);
        Assert.Contains("name is too long (100,000 characters; at most 256)", text, StringComparison.Ordinal);
        Assert.True(text.Length < 512, text);

        using var control = await http.PostAsJsonAsync("/api/projects", new { name = "a\u0000b\u202E" });
        Assert.Equal(HttpStatusCode.BadRequest, control.StatusCode);

        var projects = await http.GetStringAsync("/api/projects");
        Assert.DoesNotContain("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", projects, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentSecrets_AreMaskedInEveryResponse_AndAMaskSentBackKeepsTheStoredValue()
    {
        using var http = fx.System.CreateClient();
        var projectId = await CreateProjectAsync(http, "secrets");
        var output = Path.Combine(fx.System.DataDir, $"secret-{Guid.NewGuid():N}.txt");
        var agent = new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "secretive",
            ["cli_name"] = "custom",
            ["provider_config"] = new JsonObject
            {
                ["command"] = $"printf %s \"$ANTHROPIC_API_KEY\" > '{output}'",
                ["env"] = new JsonObject { ["ANTHROPIC_API_KEY"] = "sk-ant-very-secret-value" },
            },
        };
        using var created = await http.PostAsync("/api/agents", Text.Json(agent.ToJsonString()));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var createdJson = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        var agentId = (string)createdJson["id"]!;
        Assert.Equal("********", (string)createdJson["provider_config"]!["env"]!["ANTHROPIC_API_KEY"]!);

        foreach (var path in new[] { "/api/agents", $"/api/agents/{agentId}", $"/api/projects/{projectId}/agents" })
        {
            Assert.DoesNotContain("sk-ant-very-secret-value", await http.GetStringAsync(path), StringComparison.Ordinal);
        }

        // A client that writes back what it read (the mask) keeps the stored key; a rename goes through.
        var update = createdJson.DeepClone().AsObject();
        using var patched = await http.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/api/agents/{agentId}")
        {
            Content = Text.Json(new JsonObject { ["name"] = "renamed", ["provider_config"] = update["provider_config"]!.DeepClone() }.ToJsonString()),
        });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.DoesNotContain("sk-ant-very-secret-value", await patched.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The CLI still gets the real value: the run writes what it received.
        var repo = CreateRepo();
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repo });
        Assert.Equal(HttpStatusCode.Created, repoResponse.StatusCode);
        using var run = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "t" });
        Assert.Equal(HttpStatusCode.Created, run.StatusCode);
        var written = await Eventually.WaitAsync(() => Task.FromResult(File.Exists(output) ? File.ReadAllText(output) : ""), text => text.Length > 0,
            TimeSpan.FromSeconds(60), "the run's CLI wrote its key");
        Assert.Equal("sk-ant-very-secret-value", written);

        // Creating with the mask itself is refused: there is nothing stored to keep.
        agent["provider_config"]!["env"]!["ANTHROPIC_API_KEY"] = "********";
        using var masked = await http.PostAsync("/api/agents", Text.Json(agent.ToJsonString()));
        Assert.Equal(HttpStatusCode.BadRequest, masked.StatusCode);
    }

    [Fact]
    public async Task DeploymentConfig_MasksEverySecretOption()
    {
        using var http = fx.System.CreateClient();
        var document = JsonNode.Parse(await http.GetStringAsync("/api/v2/deployment/config"))!;
        var secrets = document["options"]!.AsArray().Where(o => (string?)o!["annotations"]!["secret"] == "true").ToList();
        Assert.NotEmpty(secrets);
        foreach (var option in secrets)
        {
            var value = (string)option!["value"]!;
            Assert.True(value is "" or "********", $"{option["name"]} shows {value}");
        }
        Assert.DoesNotContain(fx.System.Token, document.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BranchNames_ThatGitWouldTakeAsOptionsOrRevisions_Are400_BeforeReachingGit()
    {
        using var http = fx.System.CreateClient();
        var projectId = await CreateProjectAsync(http, "branches");
        var repo = CreateRepo();
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = repo });
        Assert.Equal(HttpStatusCode.Created, repoResponse.StatusCode);
        var agentId = await CreateCustomAgentAsync(http, projectId, "sleep 300");
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "t" });
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        await Eventually.WaitAsync(async () => (await http.GetAsync($"/api/runs/{runId}/changes")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), "the run's worktree exists");
        var branchesBefore = GitProcess.Run(repo, "branch", "--list", "--format=%(refname)");

        string[] hostile = ["-D", "--force", "a\u0000b\u202E💥é", "../../../etc/passwd", "a..b", "x.lock", "@{-1}", "~1", new string('b', 3000), "HEAD", "refs/heads/main"];
        foreach (var name in hostile)
        {
            using var rename = await http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name });
            var text = await rename.Content.ReadAsStringAsync();
            Assert.True(rename.StatusCode == HttpStatusCode.BadRequest, $"rename to {name[..Math.Min(20, name.Length)]} → {(int)rename.StatusCode} {text}");
            Assert.DoesNotContain("usage:", text, StringComparison.Ordinal);
            Assert.DoesNotContain("fatal:", text, StringComparison.Ordinal);
            Assert.True(text.Length < 512, text);

            await AssertBranchRoutesRefuseAsync(http, projectId, $"branch={Uri.EscapeDataString(name)}");
        }
        // A NUL byte in the query string itself.
        await AssertBranchRoutesRefuseAsync(http, projectId, "branch=%00");
        Assert.Equal(branchesBefore, GitProcess.Run(repo, "branch", "--list", "--format=%(refname)"));

        using var good = await http.PostAsJsonAsync($"/api/runs/{runId}/rename-branch", new { name = "feature/résumé-💥" });
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Contains("refs/heads/feature/résumé-💥", GitProcess.Run(repo, "branch", "--list", "--format=%(refname)"), StringComparison.Ordinal);
        await http.PostAsync($"/api/runs/{runId}/cancel", null);
    }

    private static async Task AssertBranchRoutesRefuseAsync(HttpClient http, string projectId, string query)
    {
        foreach (var request in new[]
        {
                new HttpRequestMessage(HttpMethod.Delete, $"/api/projects/{projectId}/branches?{query}"),
                new HttpRequestMessage(HttpMethod.Post, $"/api/projects/{projectId}/branches/merge?{query}"),
                new HttpRequestMessage(HttpMethod.Post, $"/api/projects/{projectId}/branches/rebase?{query}"),
            })
        {
            using var answer = await http.SendAsync(request);
            Assert.True(answer.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
                $"{request.Method} {request.RequestUri} → {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Hook_WithTheRunSecret_RefusesDuplicateKeysAndLoneSurrogates()
    {
        using var http = fx.System.CreateClient();
        var projectId = await CreateProjectAsync(http, "hooks");
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = CreateRepo() });
        var secretFile = Path.Combine(fx.System.DataDir, $"hook-secret-{Guid.NewGuid():N}");
        var agentId = await CreateCustomAgentAsync(http, projectId, $"printf %s \"$BATON_HOOK_SECRET\" > '{secretFile}'; sleep 300");
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "t" });
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        var secret = await Eventually.WaitAsync(() => Task.FromResult(File.Exists(secretFile) ? File.ReadAllText(secretFile) : ""), s => s.Length > 0,
            TimeSpan.FromSeconds(60), "the CLI received its hook secret");

        using var hooks = fx.System.CreateClient(authenticated: false);
        hooks.DefaultRequestHeaders.Add("X-Run-Hook-Secret", secret);
        foreach (var body in new[] { """{"hook_event_name":"\ud800"}""", """{"hook_event_name":"Stop","hook_event_name":"Stop"}""", """{"tool_input":{"a":1,"a":2},"hook_event_name":"PreToolUse"}""" })
        {
            using var response = await hooks.PostAsync($"/api/runs/{runId}/hook", Text.Json(body));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{body} → {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        using var valid = await hooks.PostAsync($"/api/runs/{runId}/hook", Text.Json("""{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"}}"""));
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        await http.PostAsync($"/api/runs/{runId}/cancel", null);
    }

    [Fact]
    public async Task SlowSseConsumer_IsCutOffWithItsResumeId_WhileAReadingOneGetsEveryEvent()
    {
        using var http = fx.System.CreateClient();
        var projectId = await CreateProjectAsync(http, "slow");
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "app", repo_path = CreateRepo() });
        var secretFile = Path.Combine(fx.System.DataDir, $"hook-secret-{Guid.NewGuid():N}");
        var agentId = await CreateCustomAgentAsync(http, projectId, $"printf %s \"$BATON_HOOK_SECRET\" > '{secretFile}'; sleep 300");
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "t" });
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        var secret = await Eventually.WaitAsync(() => Task.FromResult(File.Exists(secretFile) ? File.ReadAllText(secretFile) : ""), s => s.Length > 0,
            TimeSpan.FromSeconds(60), "the CLI received its hook secret");

        // Small receive buffers so the kernel cannot absorb the whole stream for the client that never reads.
        using var stalledHttp = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = fx.System.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        stalledHttp.DefaultRequestHeaders.Authorization = new("Bearer", fx.System.Token);
        using var stalled = await stalledHttp.GetAsync($"/api/runs/{runId}/events/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stalled.StatusCode);
        using var reading = await http.GetAsync($"/api/runs/{runId}/events/stream", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new SseReader(await reading.Content.ReadAsStreamAsync());

        const int Events = 400;
        var payload = new string('x', 48 * 1024);
        using var hooks = fx.System.CreateClient(authenticated: false);
        hooks.DefaultRequestHeaders.Add("X-Run-Hook-Secret", secret);
        var producing = Task.Run(async () =>
        {
            for (var i = 0; i < Events; i++)
            {
                using var response = await hooks.PostAsync($"/api/runs/{runId}/hook",
                    Text.Json(new JsonObject { ["hook_event_name"] = "PreToolUse", ["tool_name"] = "Bash", ["tool_input"] = new JsonObject { ["i"] = i, ["pad"] = payload } }.ToJsonString()));
                response.EnsureSuccessStatusCode();
            }
        });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var received = 0;
        while (received < Events)
        {
            var frame = await reader.ReadFrameAsync(timeout.Token) ?? throw new InvalidOperationException("the reading client's stream ended");
            if (frame.Data.Contains("agent.tool_call", StringComparison.Ordinal))
            {
                received++;
            }
        }
        await producing;

        // The stalled client now reads what it was sent: an error frame naming where to resume, then the end of the stream.
        using var stalledReader = new SseReader(await stalled.Content.ReadAsStreamAsync());
        var stalledEvents = 0;
        SseFrame? error = null;
        try
        {
            while (await stalledReader.ReadFrameAsync(timeout.Token) is { } frame)
            {
                if (frame.Event == "error")
                {
                    error = frame;
                }
                else if (frame.Data.Contains("agent.tool_call", StringComparison.Ordinal))
                {
                    stalledEvents++;
                }
            }
        }
        catch (IOException)
        {
            // Aborted by the gateway after the grace period: also a cut-off.
        }
        Assert.True(stalledEvents < Events, $"the stalled client was never cut off ({stalledEvents} events)");
        if (error is not null)
        {
            Assert.Contains("last_event_id", error.Data, StringComparison.Ordinal);
        }
        await http.PostAsync($"/api/runs/{runId}/cancel", null);
    }

    private string CreateRepo()
    {
        var path = Path.Combine(fx.System.DataDir, "repos", Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        GitProcess.Run(path, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(path, "README.md"), "hello\n");
        GitProcess.Run(path, "add", ".");
        GitProcess.Run(path, "commit", "-q", "-m", "initial");
        return path;
    }

    private static async Task<string> CreateProjectAsync(HttpClient http, string name)
    {
        using var response = await http.PostAsJsonAsync("/api/projects", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }

    private static async Task<string> CreateCustomAgentAsync(HttpClient http, string projectId, string command)
    {
        var body = new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "custom",
            ["cli_name"] = "custom",
            ["provider_config"] = new JsonObject { ["command"] = command },
        };
        using var response = await http.PostAsync("/api/agents", Text.Json(body.ToJsonString()));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!;
    }
}

internal static class Text
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
