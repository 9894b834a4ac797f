using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>Flows acting on real events through the whole system: file changes, commits and branch switches of BATON_WORKDIR.</summary>
[Trait("Category", "Redis")]
public sealed class FlowEngineTests
{
    private static async Task ImportAsync(HttpClient http, string yaml)
    {
        var content = new StringContent(yaml, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/yaml");
        using var response = await http.PostAsync("/api/flow/config/import", content);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task<(HttpResponseMessage Response, SseReader Reader)> OpenSseAsync(HttpClient http, string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return (response, new SseReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next data frame (skipping retry and ping frames).</summary>
    private static async Task<SseFrame> NextEventAsync(SseReader reader, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var frame = await reader.ReadFrameAsync(cts.Token) ?? throw new InvalidOperationException("the stream ended");
            if (frame.Data.Length > 0)
            {
                return frame;
            }
        }
    }

    [Fact]
    public async Task FileChange_PostsWebhookWithRetries_ToastsReachNotifications_WhichResumeByLastEventId()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        await ImportAsync(http, $$$"""
            version: 1
            flows:
              - id: readme-changed
                event_type: file-change
                where: {path: README.md}
                bindings:
                  - activity_id: post_webhook
                    config:
                      url: "{{{receiver.Url}}}/hooks/readme?x=1"
                      headers_json: '{"X-Test":"yes"}'
                      body_template: '{"path":"{{path}}","op":"{{op}}","event":"{{event_id}}","trigger":"{{trigger_id}}"}'
                  - activity_id: toast_notification
                    config: {level: info, message_template: "Changed {{path}}"}
              - id: commits
                event_type: git-commit
                bindings:
                  - activity_id: toast_notification
                    config: {level: success, message_template: "commit {{commit}} on {{branch}}"}
            """);
        var (notificationsResponse, notifications) = await OpenSseAsync(http, "/api/notifications/stream");
        using var _ = notificationsResponse;
        using var __ = notifications;
        var (eventsResponse, fileEvents) = await OpenSseAsync(http, "/api/events/stream?types=file-change");
        using var ___ = eventsResponse;
        using var ____ = fileEvents;

        // The watcher starts once the flow exists; keep touching the file until the first webhook arrives.
        var readme = Path.Combine(gestalt.WorkDir, "README.md");
        var edits = 0;
        ReceivedWebhook? first = null;
        await Eventually.WaitAsync(async () =>
        {
            await File.AppendAllTextAsync(readme, $"edit {++edits}\n");
            first = await receiver.Received.WaitToReadAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token).AsTask()
                .ContinueWith(t => t.IsCompletedSuccessfully && receiver.Received.TryRead(out var hook) ? hook : null);
            return first is not null;
        }, TimeSpan.FromSeconds(60), "a webhook for the README change");
        Assert.Equal("/hooks/readme?x=1", first!.Path);
        Assert.Equal("application/json", first.ContentType?.Split(';')[0]);
        Assert.Equal("yes", first.Headers["X-Test"]);
        var hookBody = JsonNode.Parse(first.Body)!;
        Assert.Equal("README.md", (string?)hookBody["path"]);
        Assert.Equal("modify", (string?)hookBody["op"]);
        Assert.Equal("readme-changed", (string?)hookBody["trigger"]);
        Assert.Equal(first.Headers["X-Baton-Event-Id"], (string?)hookBody["event"]);

        // The toast reached /api/notifications/stream with an id; the file event is on /api/events/stream.
        var toast = await NextEventAsync(notifications, TimeSpan.FromSeconds(30));
        Assert.NotNull(toast.Id);
        var toastJson = JsonNode.Parse(toast.Data)!;
        Assert.Equal("toast", (string?)toastJson["type"]);
        Assert.Equal("Changed README.md", (string?)toastJson["message"]);
        Assert.Equal("readme-changed", (string?)toastJson["trigger_id"]);
        var fileEvent = await NextEventAsync(fileEvents, TimeSpan.FromSeconds(30));
        Assert.NotNull(fileEvent.Id);
        Assert.Equal("file-change", (string?)JsonNode.Parse(fileEvent.Data)!["type"]);
        Assert.Equal("README.md", (string?)JsonNode.Parse(fileEvent.Data)!["path"]);
        // Later edits of the burst above may still arrive; let them all drain before the next step.
        await Eventually.WaitAsync(async () =>
        {
            using var idle = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
            try
            {
                await receiver.Received.ReadAsync(idle.Token);
                return false;
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(30), "webhooks of the first burst drained");

        // A failing receiver is retried (same event id), then succeeds.
        receiver.AnswerNext(503);
        await File.AppendAllTextAsync(readme, "retry me\n");
        var failed = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        var retried = await receiver.NextAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(503, failed.AnsweredStatus);
        Assert.Equal(200, retried.AnsweredStatus);
        Assert.Equal(failed.Headers["X-Baton-Event-Id"], retried.Headers["X-Baton-Event-Id"]);
        Assert.NotEqual(first.Headers["X-Baton-Event-Id"], retried.Headers["X-Baton-Event-Id"]);

        // A commit in the workdir fires the git-commit flow.
        GitCli.Run(gestalt.WorkDir, "commit", "-qam", "flows see commits");
        var sha = GitCli.Run(gestalt.WorkDir, "rev-parse", "HEAD");
        var ids = new List<long>();
        SseFrame commitToast;
        while (true)
        {
            commitToast = await NextEventAsync(notifications, TimeSpan.FromSeconds(30));
            ids.Add(long.Parse(commitToast.Id!, System.Globalization.CultureInfo.InvariantCulture));
            if (((string?)JsonNode.Parse(commitToast.Data)!["message"])!.StartsWith("commit", StringComparison.Ordinal))
            {
                break;
            }
        }
        Assert.Equal($"commit {sha} on main", (string?)JsonNode.Parse(commitToast.Data)!["message"]);
        Assert.Equal(ids.Order(), ids);

        // Resume: reconnecting after the first toast replays every later notification exactly once, in order.
        var (resumedResponse, resumed) = await OpenSseAsync(http, "/api/notifications/stream", toast.Id);
        using var _____ = resumedResponse;
        using var ______ = resumed;
        var replayed = new List<long>();
        while (replayed.Count < ids.Count)
        {
            replayed.Add(long.Parse((await NextEventAsync(resumed, TimeSpan.FromSeconds(30))).Id!, System.Globalization.CultureInfo.InvariantCulture));
        }
        Assert.Equal(ids, replayed);
        Assert.DoesNotContain(long.Parse(toast.Id!, System.Globalization.CultureInfo.InvariantCulture), replayed);
    }

    [Fact]
    public async Task BranchSwitch_IsAWatcherEvent_FilteredByType_AndActivityFailuresAreLoggedWithTriggerAndEvent()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        await ImportAsync(http, """
            flows:
              - id: branch-to-nowhere
                event_type: git-branch
                bindings:
                  - activity_id: post_webhook
                    config: {url: "http://127.0.0.1:1/unreachable"}
                  - activity_id: send_to_terminal
                    config: {target_session_id: "Nobody 1", message_template: "switched to {{branch}}"}
            """);
        var (response, stream) = await OpenSseAsync(http, "/api/events/stream?types=git-branch,git-commit");
        using var _ = response;
        using var __ = stream;

        // The watcher starts once the flow exists: switch branches until the event arrives.
        var switches = 0;
        SseFrame? frame = null;
        await Eventually.WaitAsync(async () =>
        {
            GitCli.Run(gestalt.WorkDir, "checkout", "-q", "-b", $"feature-{++switches}");
            try
            {
                frame = await NextEventAsync(stream, TimeSpan.FromSeconds(3));
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "a git-branch event");
        var branch = JsonNode.Parse(frame!.Data)!;
        Assert.Equal("git-branch", (string?)branch["type"]);
        Assert.StartsWith("feature-", (string?)branch["branch"]);
        Assert.Equal(gestalt.WorkDir, (string?)branch["path"]);

        // Both activities fail (nothing listens; no session control yet): the log names the trigger and the event.
        await Eventually.WaitAsync(() => Task.FromResult(
                gestalt.System.Output.Contains("Flow branch-to-nowhere activity post_webhook failed for event gestalt:", StringComparison.Ordinal)
                && gestalt.System.Output.Contains("Flow branch-to-nowhere activity send_to_terminal failed for event gestalt:", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "activity failures in the log");
    }

    [Fact]
    public async Task RunEvents_AndFileChangesOfARegisteredRepository_TriggerFlows()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        await ImportAsync(http, $$$"""
            flows:
              - id: run-finished
                event_type: run.completed
                bindings:
                  - activity_id: post_webhook
                    config:
                      url: "{{{receiver.Url}}}/hooks/run"
                      body_template: '{"run":"{{run_id}}","type":"{{type}}","trigger":"{{trigger_id}}"}'
              - id: repo-changed
                event_type: file-change
                bindings:
                  - activity_id: post_webhook
                    config:
                      url: "{{{receiver.Url}}}/hooks/file"
                      body_template: '{"path":"{{path}}","repo":"{{repo_id}}"}'
            """);

        // A repository registered through a project, outside BATON_WORKDIR: the git service watches it.
        using var projectResponse = await http.PostAsJsonAsync("/api/projects", new { name = "flows" });
        Assert.Equal(HttpStatusCode.Created, projectResponse.StatusCode);
        var projectId = (string)JsonNode.Parse(await projectResponse.Content.ReadAsStringAsync())!["id"]!;
        var repoPath = GitProcess.CreateRepo(Path.Combine(gestalt.System.DataDir, "registered-" + Guid.NewGuid().ToString("N")[..8]));
        using var repoResponse = await http.PostAsJsonAsync($"/api/projects/{projectId}/repos", new { name = "registered", repo_path = repoPath });
        Assert.True(repoResponse.StatusCode == HttpStatusCode.Created, await repoResponse.Content.ReadAsStringAsync());

        // Watching starts with demand: keep editing until the change's webhook arrives.
        var notes = Path.Combine(repoPath, "notes.txt");
        var edits = 0;
        var fileHooks = new List<JsonNode>();
        await Eventually.WaitAsync(async () =>
        {
            await File.AppendAllTextAsync(notes, $"edit {++edits}\n");
            fileHooks.AddRange(await DrainAsync(receiver, "/hooks/file", TimeSpan.FromSeconds(2)));
            return fileHooks.Any(h => ((string?)h["path"])?.EndsWith("notes.txt", StringComparison.Ordinal) == true);
        }, TimeSpan.FromSeconds(60), () => $"a webhook for the registered repository's change; received: {string.Join(", ", fileHooks.Select(h => h.ToJsonString()))}\n{gestalt.System.Output}");
        Assert.Contains(fileHooks, h => ((string?)h["path"])?.EndsWith("notes.txt", StringComparison.Ordinal) == true && !string.IsNullOrEmpty((string?)h["repo"]));

        // A run that finishes: its run.completed event, read from the event bus, fires the other flow.
        using var agentResponse = await http.PostAsJsonAsync("/api/agents", new JsonObject
        {
            ["project_id"] = projectId,
            ["name"] = "finisher",
            ["cli_name"] = "custom",
            ["provider_config"] = new JsonObject { ["command"] = "echo finished" },
        });
        Assert.Equal(HttpStatusCode.Created, agentResponse.StatusCode);
        var agentId = (string)JsonNode.Parse(await agentResponse.Content.ReadAsStringAsync())!["id"]!;
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "finish" });
        Assert.Equal(HttpStatusCode.Created, runResponse.StatusCode);
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        var runHooks = new List<JsonNode>();
        await Eventually.WaitAsync(async () =>
        {
            runHooks.AddRange(await DrainAsync(receiver, "/hooks/run", TimeSpan.FromSeconds(1)));
            return runHooks.Count > 0;
        }, TimeSpan.FromSeconds(60), () => $"the run.completed webhook; run: {http.GetStringAsync($"/api/runs/{runId}").Result}");
        var runHook = Assert.Single(runHooks);
        Assert.Equal((runId, "run.completed", "run-finished"), ((string?)runHook["run"], (string?)runHook["type"], (string?)runHook["trigger"]));
    }

    /// <summary>Webhooks received within <paramref name="wait"/>, those to <paramref name="path"/> as JSON (others are dropped).</summary>
    private static async Task<List<JsonNode>> DrainAsync(WebhookReceiver receiver, string path, TimeSpan wait)
    {
        var bodies = new List<JsonNode>();
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            while (await receiver.Received.WaitToReadAsync(timeout.Token))
            {
                while (receiver.Received.TryRead(out var hook))
                {
                    if (hook.Path == path)
                    {
                        bodies.Add(JsonNode.Parse(hook.Body)!);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        return bodies;
    }
}
