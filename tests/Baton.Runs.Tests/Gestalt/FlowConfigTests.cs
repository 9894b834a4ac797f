using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Runs.Tests.Gestalt;

/// <summary><c>/api/flow/*</c> through the gateway: the reference's endpoint policy, storage on disk, live pickup.</summary>
[Trait("Category", "Redis")]
public sealed class FlowConfigTests
{
    private const string ValidBundle = """
        version: 1
        flows:
          - id: Plan Created
            label: New plan created
            event_type: plan-new
            where: {session.id: Coder}
            bindings:
              - activity_id: toast_notification
                config: {level: info, message_template: "{{summary}}"}
          - id: readme-changed
            event_type: file-change
            where: {path: README.md}
            bindings:
              - activity_id: post_webhook
                config: {url: "http://127.0.0.1:9/hook", headers_json: '{"X-A":"b"}'}
              - activity_id: send_to_terminal
                config: {target_session_id: Coder 1, include_terminal_output: true, output_tail_lines: 20, message_template: "changed {{path}}"}
        """;

    private static HttpContent Yaml(string yaml, string mediaType = "application/yaml")
    {
        var content = new StringContent(yaml, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return content;
    }

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient http, HttpMethod method, string path, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task Import_AnswersTheReferencePolicy_StoresOneFilePerTrigger_AndExportRoundTrips()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;

        var eventTypes = JsonNode.Parse(await http.GetStringAsync("/api/flow/event-types"))!["event_types"]!.AsArray().Select(t => (string?)t).ToList();
        Assert.Equal(["file-change", "git-branch", "git-commit", "plan-new", "plan-update", "work-start", "work-progress", "work-finish",
            "agent-turn-complete", "prompt-voice", "prompt-text"], eventTypes);
        var activities = JsonNode.Parse(await http.GetStringAsync("/api/flow/activities"))!.AsArray();
        Assert.Equal(["toast_notification", "post_webhook", "send_to_terminal", "spawn_agent_session"], activities.Select(a => (string?)a!["id"]));
        var webhook = activities.Single(a => (string?)a!["id"] == "post_webhook")!["fields"]!.AsArray();
        Assert.Equal(["url", "headers_json", "body_template"], webhook.Select(f => (string?)f!["key"]));
        Assert.True((bool)webhook[0]!["required"]!);
        Assert.Equal("string", (string?)webhook[0]!["type"]);

        var empty = JsonNode.Parse(await http.GetStringAsync("/api/flow/config"))!;
        Assert.Equal(1, (int)empty["version"]!);
        Assert.Empty(empty["triggers"]!.AsArray());
        Assert.Equal(gestalt.FlowsDir, (string?)empty["storage_path"]);

        // 415: JSON, a missing Content-Type, anything not YAML.
        var (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", new StringContent("{\"version\":1}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("unsupported_media_type", (string?)body!["code"]);
        Assert.Contains("application/json", (string?)body["message"]);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", new ByteArrayContent(Encoding.UTF8.GetBytes(ValidBundle)));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("Content-Type is required", (string?)body!["message"]);
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml(ValidBundle, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);

        // 400: bad YAML, schema mismatches, binary garbage.
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("version: 1\nflows: [ {id: a, \n"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", (string?)body!["code"]);
        Assert.Contains("invalid YAML", (string?)body["message"]);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("version: 1\nflows:\n  - id: a\n    event_type: file-change\n    colour: red\n"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("colour", (string?)body!["message"]);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("version: 1\nflows:\n  - label: no id\n    event_type: file-change\n"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("id is required", (string?)body!["message"]);
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("version: 7\nflows: []\n"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("""
            flows:
              - id: a
                event_type: plan-new
                where: {path: x}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("session.id", (string?)body!["message"]);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("""
            flows:
              - id: a
                event_type: file-change
                bindings:
                  - activity_id: toast_notification
                    config: {level: info}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("message_template is required", (string?)body!["message"]);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("""
            flows:
              - id: a
                event_type: file-change
                bindings:
                  - activity_id: send_to_terminal
                    config: {message_template: hi, output_tail_lines: many}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("output_tail_lines must be an int", (string?)body!["message"]);
        var garbage = new ByteArrayContent([0xff, 0xfe, 0x00, 0x81, 0x9c, 0x00, 0x12]);
        garbage.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-yaml");
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", garbage);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("flows:\n" + string.Concat(Enumerable.Repeat("  - {id: x, event_type: y}\n", 80_000))));
        Assert.True((int)status is >= 400 and < 500, $"huge import answered {status}");

        // 409: duplicate trigger ids (also after normalisation to file names), unknown activity, an activity bound twice.
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("flows:\n  - {id: a, event_type: file-change}\n  - {id: a, event_type: git-commit}\n"));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("conflict", (string?)body!["code"]);
        Assert.Contains("duplicate trigger id", (string?)body["message"]);
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("flows:\n  - {id: My Flow, event_type: file-change}\n  - {id: my-flow, event_type: git-commit}\n"));
        Assert.Equal(HttpStatusCode.Conflict, status);
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("""
            flows:
              - id: a
                event_type: file-change
                bindings:
                  - activity_id: launch_rockets
            """));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("unknown activity", (string?)body!["message"]);
        (status, _) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml("""
            flows:
              - id: a
                event_type: file-change
                bindings:
                  - {activity_id: toast_notification, config: {level: info, message_template: x}}
                  - {activity_id: toast_notification, config: {level: warn, message_template: y}}
            """));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Empty(Directory.GetFiles(gestalt.FlowsDir, "*.flow.yaml"));

        // A valid bundle (charset allowed): one file per trigger, named by the normalised id.
        (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml(ValidBundle, "text/x-yaml; charset=utf-8"));
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(["plan-created.flow.yaml", "readme-changed.flow.yaml"], Directory.GetFiles(gestalt.FlowsDir).Select(Path.GetFileName).Order());
        var config = JsonNode.Parse(await http.GetStringAsync("/api/flow/config"))!;
        Assert.Equal(gestalt.FlowsDir, (string?)config["storage_path"]);
        Assert.Equal(["Plan Created", "readme-changed"], config["triggers"]!.AsArray().Select(t => (string?)t!["id"]));
        Assert.Equal("Coder", (string?)config["triggers"]![0]!["where"]!["session.id"]);
        var bindings = config["bindings_by_trigger_id"]!["readme-changed"]!.AsArray();
        Assert.Equal(20, (int)bindings[1]!["config"]!["output_tail_lines"]!);
        Assert.True((bool)bindings[1]!["config"]!["include_terminal_output"]!);
        Assert.Equal("{{summary}}", (string?)config["bindings_by_trigger_id"]!["Plan Created"]![0]!["config"]!["message_template"]);

        // Export: exactly the documented headers; importing it again gives the same configuration.
        using (var export = await http.GetAsync("/api/flow/config/export"))
        {
            Assert.Equal(HttpStatusCode.OK, export.StatusCode);
            Assert.Equal("application/yaml; charset=utf-8", export.Content.Headers.ContentType!.ToString());
            Assert.Equal("attachment; filename=\"flows.yaml\"", string.Join(",", export.Content.Headers.GetValues("Content-Disposition")));
            var yaml = await export.Content.ReadAsStringAsync();
            (status, body) = await SendAsync(http, HttpMethod.Post, "/api/flow/config/import", Yaml(yaml));
            Assert.Equal(HttpStatusCode.OK, status);
            body!.AsObject().Remove("storage_path");
            config.AsObject().Remove("storage_path");
            Assert.Equal(config.ToJsonString(), body.ToJsonString());
        }

        // PUT JSON replaces the whole configuration; a stale file goes away.
        var put = new JsonObject
        {
            ["version"] = 1,
            ["triggers"] = new JsonArray(new JsonObject { ["id"] = "commits", ["label"] = "Commits", ["event_type"] = "git-commit", ["where"] = new JsonObject() }),
            ["bindings_by_trigger_id"] = new JsonObject
            {
                ["commits"] = new JsonArray(new JsonObject { ["activity_id"] = "toast_notification", ["config"] = new JsonObject { ["level"] = "info", ["message_template"] = "{{commit}}" } }),
            },
        };
        (status, body) = await SendAsync(http, HttpMethod.Put, "/api/flow/config", new StringContent(put.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(["commits.flow.yaml"], Directory.GetFiles(gestalt.FlowsDir).Select(Path.GetFileName));
        (status, body) = await SendAsync(http, HttpMethod.Put, "/api/flow/config", new StringContent("{\"version\":1,\"triggers\":[],\"extra\":1}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("extra", (string?)body!["message"]);
        (status, _) = await SendAsync(http, HttpMethod.Put, "/api/flow/config", new StringContent("{\"version\":1,\"version\":1}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(["commits.flow.yaml"], Directory.GetFiles(gestalt.FlowsDir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task FlowFiles_EditedOnDisk_ApplyLive_AndABrokenFileIsReportedWithoutHidingTheOthers()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        await using var configEvents = new WebSocketFrames(await gestalt.ConnectAsync("/api/config/events"));

        await File.WriteAllTextAsync(Path.Combine(gestalt.FlowsDir, "manual.flow.yaml"), """
            id: manual
            event_type: git-branch
            bindings:
              - activity_id: toast_notification
                config: {level: info, message_template: "branch {{branch}}"}
            """);
        await Eventually.WaitAsync(async () => JsonNode.Parse(await http.GetStringAsync("/api/flow/config"))!["triggers"]!.AsArray().Count == 1,
            TimeSpan.FromSeconds(20), "a flow file written on disk is picked up");

        await File.WriteAllTextAsync(Path.Combine(gestalt.FlowsDir, "broken.flow.yaml"), "id: broken\nevent_type: [unclosed\n");
        await Eventually.WaitAsync(() => Task.FromResult(configEvents.Frames.Any(f => f.Contains("broken.flow.yaml", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(20), "the broken file is reported on /api/config/events");
        var report = JsonNode.Parse(configEvents.Frames.First(f => f.Contains("broken.flow.yaml", StringComparison.Ordinal)))!;
        Assert.Equal("config_error", (string?)report["type"]);
        Assert.Equal("flow", (string?)report["config_type"]);
        Assert.Contains("line", (string?)report["message"]);
        var config = JsonNode.Parse(await http.GetStringAsync("/api/flow/config"))!;
        Assert.Equal(["manual"], config["triggers"]!.AsArray().Select(t => (string?)t!["id"]));

        File.Delete(Path.Combine(gestalt.FlowsDir, "manual.flow.yaml"));
        await Eventually.WaitAsync(async () => JsonNode.Parse(await http.GetStringAsync("/api/flow/config"))!["triggers"]!.AsArray().Count == 0,
            TimeSpan.FromSeconds(20), "a deleted flow file is dropped");
    }
}
