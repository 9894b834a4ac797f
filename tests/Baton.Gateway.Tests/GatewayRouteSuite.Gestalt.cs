using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using static System.Net.HttpStatusCode;

namespace Baton.Gateway.Tests;

// 000_*: agent sessions, config catalog, flows, OpenTelemetry and the Gestalt streams. The fixture's config
// directory (RouteSuiteFixture.Gestalt.cs) has the agent profiles "cat" and "solo" (their shell is `cat`), a
// skill and a plan; sessions run in Baton's PTY ("server") or a window of the fixture's private tmux server
// ("external"). Each row starts the sessions it needs and ends them.
public sealed partial class GatewayRouteSuite
{
    private static RouteRow[] GestaltRows() =>
    [
        // ---- sessions ----
        Row("GET /api/sessions",
            c => WithSessionAsync(c, async id =>
            {
                var summary = (await c.SendJsonAsync("GET", "/api/sessions", null, OK))!.AsArray().Single(s => (string?)s!["id"] == id)!;
                Assert.Equal(("server", "cat", "Cat", "cli"), ((string?)summary["runner"], (string?)summary["command"], (string?)summary["title"], (string?)summary["interface"]));
                Assert.Contains((string?)summary["status"], new[] { "starting", "running" });
                Assert.Equal(RouteSuiteFixture.RouteSkill, (string?)summary["skills"]![0]);
            }),
            c => c.ErrorAsync("GET", "/api/sessions", Unauthorized, authenticated: false)),
        Row("POST /api/sessions",
            async c =>
            {
                var created = await c.SendJsonAsync("POST", "/api/sessions", new { agent = RouteSuiteFixture.CatAgent, title = "made", role = "tester", runner = "server" }, Created);
                var id = (string)created!["id"]!;
                try
                {
                    Assert.Matches(@"^Cat \d+$", id);
                    Assert.Equal(("made", "tester", "server"), ((string?)created["title"], (string?)created["role"], (string?)created["runner"]));
                    Assert.Equal(id, (string?)created["launch"]!["session_id"]);
                    Assert.NotEmpty(created["launch"]!["argv"]!.AsArray());
                }
                finally
                {
                    await EndSessionAsync(c, id);
                }
            },
            c => c.ErrorAsync("POST", "/api/sessions", BadRequest, new { }, mentions: "agent is required"),
            c => c.ErrorAsync("POST", "/api/sessions", BadRequest, new { agent = "no-such-agent" }, mentions: "unknown agent"),
            c => c.ErrorAsync("POST", "/api/sessions", BadRequest, new { agent = RouteSuiteFixture.CatAgent, workflow = true }, mentions: "workflow"),
            c => c.ErrorAsync("POST", "/api/sessions", BadRequest, new { agent = RouteSuiteFixture.CatAgent, runner = "cloud" }, mentions: "runner"),
            SingletonConflictAsync),
        Row("DELETE /api/sessions/{id}",
            async c =>
            {
                var id = await NewSessionAsync(c);
                await c.SendJsonAsync("DELETE", SessionPath(id), null, NoContent);
                await c.ErrorAsync("GET", SessionPath(id, "output"), NotFound, mentions: "terminal not found");
            },
            c => c.ErrorAsync("DELETE", SessionPath("Nobody 1"), NotFound)),
        Row("GET /api/sessions/{id}/output",
            c => WithSessionAsync(c, async id =>
            {
                var marker = "out-" + Guid.NewGuid().ToString("N")[..8];
                await RawAsync(c, "POST", SessionPath(id, "input"), Bytes(marker + "\n"), OK);
                await Eventually.WaitAsync(async () =>
                {
                    var output = (await c.SendJsonAsync("GET", SessionPath(id, "output"), null, OK))!;
                    return (string?)output["id"] == id && output["lines"]!.AsArray().Any(l => ((string?)l)!.Contains(marker, StringComparison.Ordinal));
                }, TimeSpan.FromSeconds(30), $"{marker} in the output of {id}");
            }),
            c => c.ErrorAsync("GET", SessionPath("Nobody 1", "output"), NotFound)),
        Row("POST /api/sessions/{id}/input",
            c => WithSessionAsync(c, async id =>
            {
                var (_, body) = await RawAsync(c, "POST", SessionPath(id, "input"), Bytes("hello\n"), OK);
                Assert.Equal(6, (int)JsonNode.Parse(body)!["bytes"]!);
            }),
            c => WithSessionAsync(c, id => RawErrorAsync(c, "POST", SessionPath(id, "input"), BadRequest, Bytes(""), "invalid request body")),
            c => RawErrorAsync(c, "POST", SessionPath("Nobody 1", "input"), NotFound, Bytes("x")),
            VanishedWindowAsync),
        Row("POST /api/sessions/{id}/activate",
            c => WithSessionAsync(c, id => c.SendJsonAsync("POST", SessionPath(id, "activate"), null, NoContent), runner: "external"),
            c => WithSessionAsync(c, id => c.ErrorAsync("POST", SessionPath(id, "activate"), Conflict, mentions: "not tmux-managed")),
            c => c.ErrorAsync("POST", SessionPath("Nobody 1", "activate"), NotFound)),
        Row("GET /api/sessions/{id}/history",
            c => WithSessionAsync(c, async id =>
            {
                var marker = "hist-" + Guid.NewGuid().ToString("N")[..8];
                await RawAsync(c, "POST", SessionPath(id, "input"), Bytes(marker + "\n"), OK);
                await Eventually.WaitAsync(async () =>
                {
                    var page = (await c.SendJsonAsync("GET", SessionPath(id, "history") + "?lines=10", null, OK))!;
                    return page["lines"]!.AsArray().Any(l => ((string?)l)!.Contains(marker, StringComparison.Ordinal));
                }, TimeSpan.FromSeconds(30), $"{marker} in the history of {id}");
            }),
            c => WithSessionAsync(c, id => c.ErrorAsync("GET", SessionPath(id, "history") + "?lines=0", BadRequest, mentions: "lines")),
            c => WithSessionAsync(c, id => c.ErrorAsync("GET", SessionPath(id, "history") + "?before_cursor=x", BadRequest, mentions: "before_cursor")),
            c => c.ErrorAsync("GET", SessionPath("Nobody 1", "history"), NotFound)),
        Row("GET /api/sessions/{id}/input-history",
            c => WithSessionAsync(c, async id =>
            {
                await c.SendJsonAsync("POST", SessionPath(id, "input-history"), new { command = "git status" }, NoContent);
                await c.SendJsonAsync("POST", SessionPath(id, "input-history"), new { command = "make test" }, NoContent);
                var entries = (await c.SendJsonAsync("GET", SessionPath(id, "input-history") + "?limit=1", null, OK))!.AsArray();
                Assert.Equal("make test", (string?)Assert.Single(entries)!["command"]);
                Assert.NotNull((string?)entries[0]!["timestamp"]);
            }),
            c => WithSessionAsync(c, id => c.ErrorAsync("GET", SessionPath(id, "input-history") + "?limit=0", BadRequest, mentions: "limit")),
            c => WithSessionAsync(c, id => c.ErrorAsync("GET", SessionPath(id, "input-history") + "?since=yesterday", BadRequest, mentions: "since")),
            c => c.ErrorAsync("GET", SessionPath("Nobody 1", "input-history"), NotFound)),
        Row("POST /api/sessions/{id}/input-history",
            c => WithSessionAsync(c, async id =>
            {
                await c.SendJsonAsync("POST", SessionPath(id, "input-history"), new { command = "ls -la" }, NoContent);
                Assert.Equal("ls -la", (string?)(await c.SendJsonAsync("GET", SessionPath(id, "input-history"), null, OK))![0]!["command"]);
            }),
            c => WithSessionAsync(c, id => c.ErrorAsync("POST", SessionPath(id, "input-history"), BadRequest, new { }, mentions: "missing command")),
            c => c.ErrorAsync("POST", SessionPath("Nobody 1", "input-history"), NotFound, new { command = "x" })),
        Row("POST /api/sessions/{id}/bell",
            c => WithSessionAsync(c, id => c.SendJsonAsync("POST", SessionPath(id, "bell"), null, NoContent)),
            c => c.ErrorAsync("POST", SessionPath("Nobody 1", "bell"), NotFound)),
        Row("POST /api/sessions/{id}/notify",
            c => WithSessionAsync(c, id => c.SendJsonAsync("POST", SessionPath(id, "notify"), NotifyEnvelope(id), NoContent)),
            c => WithSessionAsync(c, id => c.ErrorAsync("POST", SessionPath(id, "notify"), BadRequest, NotifyEnvelope("Other 1"), mentions: "session id mismatch")),
            c => WithSessionAsync(c, id =>
            {
                var envelope = NotifyEnvelope(id);
                envelope["agent_id"] = "x";
                return c.ErrorAsync("POST", SessionPath(id, "notify"), BadRequest, envelope.ToJsonString(), mentions: "agent_id");
            }),
            c => WithSessionAsync(c, id => c.ErrorAsync("POST", SessionPath(id, "notify"), UnprocessableEntity, NotifyEnvelope(id, new JsonObject { ["turn"] = 1 }), mentions: "missing payload type")),
            c => c.ErrorAsync("POST", SessionPath("Nobody 1", "notify"), NotFound, NotifyEnvelope("Nobody 1"))),
        Row("GET /api/sessions/{id}/progress",
            c => WithSessionAsync(c, async id =>
            {
                Assert.False((bool)(await c.SendJsonAsync("GET", SessionPath(id, "progress"), null, OK))!["has_progress"]!);
                var progress = new JsonObject { ["type"] = "progress", ["plan_file"] = "plans/" + RouteSuiteFixture.RoutePlan, ["l1"] = "First", ["l2"] = "Second", ["task_level"] = "2", ["task_state"] = "wip" };
                await c.SendJsonAsync("POST", SessionPath(id, "notify"), NotifyEnvelope(id, progress), NoContent);
                var recorded = (await c.SendJsonAsync("GET", SessionPath(id, "progress"), null, OK))!;
                Assert.Equal((true, RouteSuiteFixture.RoutePlan, "Second", 2), ((bool)recorded["has_progress"]!, (string?)recorded["plan_file"], (string?)recorded["l2"], (int)recorded["task_level"]!));
            }),
            c => c.ErrorAsync("GET", SessionPath("Nobody 1", "progress"), NotFound)),

        // ---- config catalog ----
        Row("GET /api/skills",
            async c =>
            {
                var skill = Assert.Single((await c.SendJsonAsync("GET", "/api/skills?agent=" + RouteSuiteFixture.CatAgent, null, OK))!.AsArray())!;
                Assert.Equal((RouteSuiteFixture.RouteSkill, "What the route suite lists", "MIT"), ((string?)skill["name"], (string?)skill["description"], (string?)skill["license"]));
                Assert.Equal((true, false, false), ((bool)skill["has_references"]!, (bool)skill["has_scripts"]!, (bool)skill["has_assets"]!));
                Assert.Contains((await c.SendJsonAsync("GET", "/api/skills", null, OK))!.AsArray(), s => (string?)s!["name"] == RouteSuiteFixture.RouteSkill);
            },
            c => c.ErrorAsync("GET", "/api/skills?agent=nobody", NotFound, mentions: "agent not found")),
        Row("GET /api/plans",
            async c =>
            {
                var plan = (await c.SendJsonAsync("GET", "/api/plans", null, OK))!["plans"]!.AsArray().Single(p => (string?)p!["filename"] == RouteSuiteFixture.RoutePlan)!;
                // Priorities are counted over the L2 headings (the tasks), as the sessions suite pins down.
                Assert.Equal(("Route Plan", 1, 1, 0, 1), ((string?)plan["title"], (int)plan["l1_count"]!, (int)plan["l2_count"]!, (int)plan["priority_a"]!, (int)plan["priority_b"]!));
                Assert.Equal(("WIP", "Second"), ((string?)plan["headings"]![0]!["keyword"], (string?)plan["headings"]![0]!["children"]![0]!["text"]));
            },
            c => c.ErrorAsync("GET", "/api/plans", Unauthorized, authenticated: false)),

        // ---- flows ----
        Row("GET /api/flow/activities",
            async c => Assert.Equal(["toast_notification", "post_webhook", "send_to_terminal", "spawn_agent_session"],
                (await c.SendJsonAsync("GET", "/api/flow/activities", null, OK))!.AsArray().Select(a => (string?)a!["id"])),
            c => c.ErrorAsync("GET", "/api/flow/activities", Unauthorized, authenticated: false)),
        Row("GET /api/flow/event-types",
            async c => Assert.Equal(11, (await c.SendJsonAsync("GET", "/api/flow/event-types", null, OK))!["event_types"]!.AsArray().Count),
            c => c.ErrorAsync("GET", "/api/flow/event-types", Unauthorized, authenticated: false)),
        Row("GET /api/flow/config",
            async c =>
            {
                await c.SendJsonAsync("PUT", "/api/flow/config", FlowConfig("route-get"), OK);
                var config = (await c.SendJsonAsync("GET", "/api/flow/config", null, OK))!;
                Assert.Equal(("route-get", Path.Combine(c.GestaltConfigDir, "flows")), ((string?)Assert.Single(config["triggers"]!.AsArray())!["id"], (string?)config["storage_path"]));
                Assert.Equal("toast_notification", (string?)config["bindings_by_trigger_id"]!["route-get"]![0]!["activity_id"]);
            },
            c => c.ErrorAsync("GET", "/api/flow/config", Unauthorized, authenticated: false)),
        Row("PUT /api/flow/config",
            async c =>
            {
                var saved = (await c.SendJsonAsync("PUT", "/api/flow/config", FlowConfig("route-put"), OK))!;
                Assert.Equal("route-put", (string?)saved["triggers"]![0]!["id"]);
                Assert.True(File.Exists(Path.Combine(c.GestaltConfigDir, "flows", "route-put.flow.yaml")), "one file per trigger");
            },
            c => c.ErrorAsync("PUT", "/api/flow/config", BadRequest, "{not json"),
            c => c.ErrorAsync("PUT", "/api/flow/config", BadRequest, new { version = 1, triggers = new[] { new { label = "no id", event_type = "file-change" } } }, mentions: "id"),
            c => c.ErrorAsync("PUT", "/api/flow/config", Conflict, new { version = 1, triggers = new[] { new { id = "twice", event_type = "file-change" }, new { id = "twice", event_type = "git-commit" } } }, mentions: "twice"),
            c => c.ErrorAsync("PUT", "/api/flow/config", Conflict, FlowConfig("rocket", activity: "launch_rocket"), mentions: "launch_rocket"),
            c => RawErrorAsync(c, "PUT", "/api/flow/config", UnsupportedMediaType, Yaml("version: 1\n"))),
        Row("GET /api/flow/config/export",
            async c =>
            {
                await c.SendJsonAsync("PUT", "/api/flow/config", FlowConfig("route-export"), OK);
                using var response = await c.SendAsync("GET", "/api/flow/config/export");
                Assert.Equal(OK, response.StatusCode);
                Assert.Equal("application/yaml; charset=utf-8", response.Content.Headers.ContentType?.ToString());
                Assert.Equal("attachment; filename=\"flows.yaml\"", response.Content.Headers.ContentDisposition?.ToString());
                Assert.Contains("id: route-export", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            },
            c => c.ErrorAsync("GET", "/api/flow/config/export", Unauthorized, authenticated: false)),
        Row("POST /api/flow/config/import",
            async c =>
            {
                var (_, body) = await RawAsync(c, "POST", "/api/flow/config/import", Yaml(FlowBundle("route-import"), "text/yaml; charset=utf-8"), OK);
                Assert.Equal("route-import", (string?)JsonNode.Parse(body)!["triggers"]![0]!["id"]);
                Assert.Equal("route-import", (string?)(await c.SendJsonAsync("GET", "/api/flow/config", null, OK))!["triggers"]![0]!["id"]);
            },
            c => c.ErrorAsync("POST", "/api/flow/config/import", UnsupportedMediaType, new { version = 1 }, mentions: "application/json"),
            c => RawErrorAsync(c, "POST", "/api/flow/config/import", UnsupportedMediaType, Bytes(FlowBundle("x")), "Content-Type", withoutContentType: true),
            c => RawErrorAsync(c, "POST", "/api/flow/config/import", BadRequest, Yaml("version: 1\nflows: [ {id: a, \n"), "invalid YAML"),
            c => RawErrorAsync(c, "POST", "/api/flow/config/import", BadRequest, Yaml("version: 1\nflows:\n  - id: a\n    event_type: file-change\n    colour: red\n"), "colour"),
            c => RawErrorAsync(c, "POST", "/api/flow/config/import", Conflict, Yaml(FlowBundle("dup") + FlowBundle("dup")["version: 1\nflows:\n".Length..]), "dup"),
            c => RawErrorAsync(c, "POST", "/api/flow/config/import", Conflict, Yaml(FlowBundle("rocket", activity: "launch_rocket")), "launch_rocket")),

        // ---- OpenTelemetry ----
        Row("POST /api/otel/logs",
            async c =>
            {
                var marker = Guid.NewGuid().ToString("N");
                await c.SendJsonAsync("POST", "/api/otel/logs", new { severity_text = "WARN", severity_number = 13, body = new { stringValue = "ui says " + marker }, attributes = new { component = "dashboard" } }, NoContent);
                var entry = await LogRecordAsync(c, marker);
                Assert.Equal(("Warning", "dashboard"), ((string?)entry["level"], (string?)entry["attributes"]!["component"]));
            },
            c => c.ErrorAsync("POST", "/api/otel/logs", BadRequest, new { body = "x", severity_number = 99 }, mentions: "severity_number"),
            c => c.ErrorAsync("POST", "/api/otel/logs", BadRequest, new { body = "x", nope = 1 }, mentions: "nope"),
            c => c.ErrorAsync("POST", "/api/otel/logs", Unauthorized, new { body = "x" }, authenticated: false)),
        Row("GET /api/otel/traces",
            async c =>
            {
                var traceId = NewTraceId();
                await RawAsync(c, "POST", "/v1/traces", Json(OtlpTrace(traceId, "route span")), OK);
                var record = Assert.Single((await c.SendJsonAsync("GET", $"/api/otel/traces?trace_id={traceId}&span_name=route%20span&limit=5", null, OK))!.AsArray())!;
                Assert.Equal(traceId, (string?)record["resourceSpans"]![0]!["scopeSpans"]![0]!["spans"]![0]!["traceId"]);
            },
            c => c.ErrorAsync("GET", "/api/otel/traces?limit=5000", BadRequest, mentions: "limit"),
            c => c.ErrorAsync("GET", "/api/otel/traces?trace_id=xyz", BadRequest, mentions: "trace_id"),
            c => c.ErrorAsync("GET", "/api/otel/traces", Unauthorized, authenticated: false)),
        Row("GET /api/otel/metrics",
            async c =>
            {
                var name = "route.metric." + Guid.NewGuid().ToString("N")[..8];
                await RawAsync(c, "POST", "/v1/metrics", Json(OtlpMetric(name)), OK);
                var record = Assert.Single((await c.SendJsonAsync("GET", $"/api/otel/metrics?name={name}&since=2020-01-01T00:00:00Z", null, OK))!.AsArray())!;
                Assert.Equal("5", record["resourceMetrics"]![0]!["scopeMetrics"]![0]!["metrics"]![0]!["sum"]!["dataPoints"]![0]!["asInt"]!.ToString());
            },
            c => c.ErrorAsync("GET", "/api/otel/metrics?since=yesterday", BadRequest, mentions: "since"),
            c => c.ErrorAsync("GET", "/api/otel/metrics", Unauthorized, authenticated: false)),
        Row("POST /v1/logs",
            async c =>
            {
                var marker = Guid.NewGuid().ToString("N");
                var (contentType, _) = await RawAsync(c, "POST", "/v1/logs", Json(OtlpLog("otlp says " + marker)), OK);
                Assert.Equal("application/json", contentType);
                Assert.Equal("Error", (string?)(await LogRecordAsync(c, marker))["level"]);
            },
            c => RawErrorAsync(c, "POST", "/v1/logs", BadRequest, Json("{\"resourceLogs\":\"nope\"}")),
            c => RawErrorAsync(c, "POST", "/v1/logs", BadRequest, Garbage("application/x-protobuf")),
            c => RawErrorAsync(c, "POST", "/v1/logs", Unauthorized, Json(OtlpLog("denied")), authenticated: false)),
        Row("POST /v1/metrics",
            async c =>
            {
                var name = "route.v1.metric." + Guid.NewGuid().ToString("N")[..8];
                await RawAsync(c, "POST", "/v1/metrics", Json(OtlpMetric(name)), OK);
                Assert.Single((await c.SendJsonAsync("GET", $"/api/otel/metrics?name={name}", null, OK))!.AsArray());
            },
            c => RawErrorAsync(c, "POST", "/v1/metrics", BadRequest, Garbage("application/json")),
            c => RawErrorAsync(c, "POST", "/v1/metrics", UnsupportedMediaType, Bytes(OtlpMetric("x"), "text/plain")),
            c => RawErrorAsync(c, "POST", "/v1/metrics", Unauthorized, Json(OtlpMetric("x")), authenticated: false)),
        Row("POST /v1/traces",
            async c =>
            {
                var traceId = NewTraceId();
                var (_, body) = await RawAsync(c, "POST", "/v1/traces", Json(OtlpTrace(traceId, "v1 span")), OK);
                Assert.IsType<JsonObject>(JsonNode.Parse(body));
                Assert.Single((await c.SendJsonAsync("GET", $"/api/otel/traces?trace_id={traceId}", null, OK))!.AsArray());
            },
            c => RawErrorAsync(c, "POST", "/v1/traces", BadRequest, Garbage("application/x-protobuf")),
            c => RawErrorAsync(c, "POST", "/v1/traces", BadRequest, Json(OtlpTrace("zz-not-hex", "bad"))),
            c => RawErrorAsync(c, "POST", "/v1/traces", Unauthorized, Json(OtlpTrace(NewTraceId(), "denied")), authenticated: false)),

        // ---- streams ----
        Row("GET /ws/session/{id}", SessionTerminalAsync,
            c => c.ErrorAsync("GET", "/ws/session/Cat%201", BadRequest, mentions: "WebSocket"),
            c => WebSocketRefusedAsync(c, "/ws/session/Nobody%201", NotFound),
            c => WithSessionAsync(c, id => WebSocketRefusedAsync(c, $"/ws/session/{Uri.EscapeDataString(id)}?cursor=-1", BadRequest))),
        Row("GET /api/events/stream",
            async c =>
            {
                var id = "";
                var frame = await SseUntilAsync(c, "/api/events/stream?types=terminal_created", async () => id = await NewSessionAsync(c),
                    data => (string?)data["type"] == "terminal_created" && (string?)data["session_id"] == id);
                try
                {
                    Assert.Equal(RouteSuiteFixture.CatAgent, (string?)JsonNode.Parse(frame.Data)!["data"]!["agent_id"]);
                    // Beyond Gestalt: the frame's id resumes the stream; replaying from before it delivers it again.
                    var again = await SseUntilAsync(c, $"/api/events/stream?types=terminal_created&last_event_id={long.Parse(frame.Id!, System.Globalization.CultureInfo.InvariantCulture) - 1}",
                        () => Task.CompletedTask, data => (string?)data["session_id"] == id);
                    Assert.Equal(frame.Id, again.Id);
                }
                finally
                {
                    await EndSessionAsync(c, id);
                }
            },
            c => c.ErrorAsync("GET", "/api/events/stream?last_event_id=abc", BadRequest),
            c => c.ErrorAsync("GET", "/api/events/stream", Unauthorized, authenticated: false)),
        Row("GET /api/notifications/stream",
            c => WithSessionAsync(c, async id =>
            {
                var frame = await SseUntilAsync(c, "/api/notifications/stream", () => c.SendJsonAsync("POST", SessionPath(id, "bell"), null, NoContent),
                    data => (string?)data["type"] == "bell" && (string?)data["session_id"] == id);
                Assert.NotNull(frame.Id);
            }),
            c => c.ErrorAsync("GET", "/api/notifications/stream?last_event_id=-1", BadRequest),
            c => c.ErrorAsync("GET", "/api/notifications/stream", Unauthorized, authenticated: false)),
        Row("GET /api/agents/events",
            async c =>
            {
                var id = "";
                var frame = await WebSocketUntilAsync(c, "/api/agents/events?after_id=0", async () => id = await NewSessionAsync(c),
                    data => (string?)data["type"] == "agent_started" && (string?)data["context"]?["session_id"] == id);
                await EndSessionAsync(c, id);
                Assert.Equal(("cat", "Cat"), ((string?)frame["agent_id"], (string?)frame["agent_name"]));
            },
            c => c.ErrorAsync("GET", "/api/agents/events", BadRequest),
            c => WebSocketRefusedAsync(c, "/api/agents/events?after_id=abc", BadRequest)),
        Row("GET /api/sessions/events",
            async c =>
            {
                var id = "";
                var frame = await WebSocketUntilAsync(c, "/api/sessions/events?after_id=0", async () => id = await NewSessionAsync(c),
                    data => (string?)data["type"] == "terminal_created" && (string?)data["session_id"] == id);
                await EndSessionAsync(c, id);
                Assert.Equal("server", (string?)frame["data"]!["runner"]);
            },
            c => c.ErrorAsync("GET", "/api/sessions/events", BadRequest),
            c => WebSocketRefusedAsync(c, "/api/sessions/events?after_id=-1", BadRequest)),
        Row("GET /api/config/events",
            async c =>
            {
                var frame = await WebSocketUntilAsync(c, "/api/config/events", () => c.SendJsonAsync("PUT", "/api/flow/config", FlowConfig("route-config-events"), OK),
                    data => (string?)data["type"] == "config_changed" && (string?)data["config_type"] == "flow");
                Assert.Equal("changed", (string?)frame["change_type"]);
            },
            c => c.ErrorAsync("GET", "/api/config/events", BadRequest),
            c => WebSocketRefusedAsync(c, "/api/config/events?after_id=abc", BadRequest)),
    ];

    // ---- the gestalt rows' helpers ----

    private static string SessionPath(string id, string action = "") => "/api/sessions/" + Uri.EscapeDataString(id) + (action.Length > 0 ? "/" + action : "");

    private static async Task<string> NewSessionAsync(RouteSuiteFixture c, string agent = RouteSuiteFixture.CatAgent, string runner = "server") =>
        (string)(await c.SendJsonAsync("POST", "/api/sessions", new { agent, runner }, Created))!["id"]!;

    private static async Task EndSessionAsync(RouteSuiteFixture c, string id)
    {
        if (id.Length > 0)
        {
            using var response = await c.SendAsync("DELETE", SessionPath(id));
            Assert.True(response.StatusCode is NoContent or NotFound, $"DELETE {id}: {(int)response.StatusCode}");
        }
    }

    /// <summary>Runs <paramref name="step"/> with a session of its own, ended afterwards whatever happens.</summary>
    private static async Task WithSessionAsync(RouteSuiteFixture c, Func<string, Task> step, string runner = "server")
    {
        var id = await NewSessionAsync(c, runner: runner);
        try
        {
            await step(id);
        }
        finally
        {
            await EndSessionAsync(c, id);
        }
    }

    private static async Task SingletonConflictAsync(RouteSuiteFixture c)
    {
        var id = await NewSessionAsync(c, RouteSuiteFixture.SoloAgent);
        try
        {
            Assert.Equal("Solo 1", id);
            using var response = await c.SendAsync("POST", "/api/sessions", new { agent = RouteSuiteFixture.SoloAgent });
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == Conflict, $"a running singleton: {(int)response.StatusCode} {text}");
            RouteSuiteFixture.AssertErrorShape(RouteFamily.Gestalt, response.Content.Headers.ContentType, text, "POST /api/sessions (singleton)");
            Assert.Equal((id, "conflict"), ((string?)JsonNode.Parse(text)!["session_id"], (string?)JsonNode.Parse(text)!["code"]));
        }
        finally
        {
            await EndSessionAsync(c, id);
        }
    }

    /// <summary>An external session whose tmux window is killed behind Baton's back: input is 409 "session window not found".</summary>
    private static Task VanishedWindowAsync(RouteSuiteFixture c) => WithSessionAsync(c, async id =>
    {
        var windows = c.Tmux("list-windows", "-a", "-F", "#{window_name}|#{window_id}").Output;
        var window = windows.Split('\n').Single(w => w.StartsWith(id + "|", StringComparison.Ordinal)).Split('|')[1];
        Assert.Equal(0, c.Tmux("kill-window", "-t", window).Code);
        await Eventually.WaitAsync(async () =>
        {
            using var content = Bytes("x");
            using var request = new HttpRequestMessage(HttpMethod.Post, SessionPath(id, "input")) { Content = content };
            using var response = await c.Http.SendAsync(request);
            return response.StatusCode == Conflict;
        }, TimeSpan.FromSeconds(30), "input to a vanished tmux window answers 409");
        await RawErrorAsync(c, "POST", SessionPath(id, "input"), Conflict, Bytes("x"), "session window not found");
    }, runner: "external");

    private static async Task SessionTerminalAsync(RouteSuiteFixture c) => await WithSessionAsync(c, async id =>
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var marker = "ws-" + Guid.NewGuid().ToString("N")[..8];
        using (var socket = await ConnectAsync(c, "/ws/session/" + Uri.EscapeDataString(id), timeout.Token))
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(marker + "\n"), WebSocketMessageType.Binary, true, timeout.Token);
            var output = new StringBuilder();
            while (!output.ToString().Contains(marker, StringComparison.Ordinal))
            {
                output.Append(await ReceiveTextAsync(socket, timeout.Token));
            }
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }
        // ?cursor=0 replays the session's log from its first byte: the marker again, for a viewer that was not there.
        using var replay = await ConnectAsync(c, $"/ws/session/{Uri.EscapeDataString(id)}?cursor=0", timeout.Token);
        var replayed = new StringBuilder();
        while (!replayed.ToString().Contains(marker, StringComparison.Ordinal))
        {
            replayed.Append(await ReceiveTextAsync(replay, timeout.Token));
        }
        await replay.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    });

    private static async Task WebSocketRefusedAsync(RouteSuiteFixture c, string pathAndQuery, HttpStatusCode expected)
    {
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + c.System.Token);
        socket.Options.CollectHttpResponseDetails = true;
        var uri = new Uri(new UriBuilder(c.System.GatewayUrl) { Scheme = "ws" }.Uri, pathAndQuery);
        var error = await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, CancellationToken.None));
        Assert.True(socket.HttpStatusCode == expected, $"{pathAndQuery}: {socket.HttpStatusCode} {error.Message}");
    }

    /// <summary>Opens the SSE stream, then acts; the first data frame matching <paramref name="match"/> (it carries an id).</summary>
    private static async Task<SseFrame> SseUntilAsync(RouteSuiteFixture c, string path, Func<Task> act, Func<JsonNode, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await c.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        await act();
        while (true)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token);
            Assert.NotNull(frame);
            if (frame.Data.Length > 0 && frame.Event is null && match(JsonNode.Parse(frame.Data)!))
            {
                Assert.NotNull(frame.Id);
                return frame;
            }
        }
    }

    /// <summary>Connects the WebSocket, then acts; the first JSON text frame matching <paramref name="match"/>.</summary>
    private static async Task<JsonNode> WebSocketUntilAsync(RouteSuiteFixture c, string pathAndQuery, Func<Task> act, Func<JsonNode, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = await ConnectAsync(c, pathAndQuery, timeout.Token);
        await act();
        while (true)
        {
            var frame = JsonNode.Parse(await ReceiveTextAsync(socket, timeout.Token))!;
            if (match(frame))
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                return frame;
            }
        }
    }

    /// <summary>The <c>/api/logs/stream</c> entry (it replays the last hour) whose message carries <paramref name="marker"/>.</summary>
    private static async Task<JsonNode> LogRecordAsync(RouteSuiteFixture c, string marker)
    {
        var frame = await SseUntilAsync(c, "/api/logs/stream", () => Task.CompletedTask, data => ((string?)data["message"])?.Contains(marker, StringComparison.Ordinal) == true);
        return JsonNode.Parse(frame.Data)!;
    }

    private static async Task<(string? ContentType, string Body)> RawAsync(RouteSuiteFixture c, string method, string path, HttpContent content, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        using var response = await c.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return (response.Content.Headers.ContentType?.MediaType, text);
    }

    /// <summary>A documented error for a body that is not JSON (raw bytes, YAML, OTLP): its status and the route family's error shape.</summary>
    private static async Task RawErrorAsync(RouteSuiteFixture c, string method, string path, HttpStatusCode expected, HttpContent content, string? mentions = null,
        bool authenticated = true, bool withoutContentType = false)
    {
        if (withoutContentType)
        {
            content.Headers.ContentType = null;
        }
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        using var anonymous = authenticated ? null : c.System.CreateClient(authenticated: false);
        using var response = await (anonymous ?? c.Http).SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        RouteSuiteFixture.AssertErrorShape(RouteTable.Classify(path.Split('?')[0]), response.Content.Headers.ContentType, text, $"{method} {path}");
        if (mentions is not null)
        {
            Assert.Contains(mentions, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    private static ByteArrayContent Bytes(string text, string contentType = "application/octet-stream") => Bytes(Encoding.UTF8.GetBytes(text), contentType);

    private static ByteArrayContent Bytes(byte[] bytes, string contentType = "application/octet-stream")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static ByteArrayContent Yaml(string yaml, string contentType = "application/yaml") => Bytes(yaml, contentType);

    private static ByteArrayContent Json(string json) => Bytes(json, "application/json");

    private static ByteArrayContent Garbage(string contentType)
    {
        var bytes = new byte[4096];
        new Random(42).NextBytes(bytes);
        return Bytes(bytes, contentType);
    }

    private static JsonObject NotifyEnvelope(string sessionId, JsonObject? payload = null) => new()
    {
        ["session_id"] = sessionId,
        ["occurred_at"] = "2026-11-30T10:00:00Z",
        ["payload"] = payload ?? new JsonObject { ["type"] = "agent-turn-complete", ["turn"] = 3 },
        ["event_id"] = "route-notify:" + Guid.NewGuid().ToString("N")[..8],
    };

    /// <summary>The JSON form of one trigger on plan-new (never fired by the suite) with a toast.</summary>
    private static string FlowConfig(string id, string activity = "toast_notification") => new JsonObject
    {
        ["version"] = 1,
        ["triggers"] = new JsonArray(new JsonObject { ["id"] = id, ["label"] = "route " + id, ["event_type"] = "plan-new", ["where"] = new JsonObject { ["session.id"] = "Nobody" } }),
        ["bindings_by_trigger_id"] = new JsonObject
        {
            [id] = new JsonArray(new JsonObject { ["activity_id"] = activity, ["config"] = new JsonObject { ["level"] = "info", ["message_template"] = "{{summary}}" } }),
        },
    }.ToJsonString();

    private static string FlowBundle(string id, string activity = "toast_notification") => $$"""
        version: 1
        flows:
          - id: {{id}}
            label: route {{id}}
            event_type: plan-new
            where: {session.id: Nobody}
            bindings:
              - activity_id: {{activity}}
                config: {level: info, message_template: "{{"{{"}}summary{{"}}"}}"}

        """;

    private static string NewTraceId() => Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();

    private static string NowNanos() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string OtlpTrace(string traceId, string name) => $$$"""
        {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"route-suite"}}]},
          "scopeSpans":[{"scope":{"name":"route"},"spans":[{"traceId":"{{{traceId}}}","spanId":"0102030405060708","name":"{{{name}}}",
            "kind":2,"startTimeUnixNano":"{{{NowNanos()}}}","endTimeUnixNano":"{{{NowNanos()}}}","status":{"code":1}}]}]}]}
        """;

    private static string OtlpMetric(string name) => $$$"""
        {"resourceMetrics":[{"resource":{"attributes":[]},"scopeMetrics":[{"scope":{"name":"route"},"metrics":[{"name":"{{{name}}}",
          "sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"5","timeUnixNano":"{{{NowNanos()}}}"}]}}]}]}]}
        """;

    private static string OtlpLog(string message) => $$$"""
        {"resourceLogs":[{"resource":{"attributes":[]},"scopeLogs":[{"scope":{"name":"route.suite"},"logRecords":[{"timeUnixNano":"{{{NowNanos()}}}",
          "severityNumber":17,"severityText":"ERROR","body":{"stringValue":"{{{message}}}"}}]}]}]}
        """;
}
