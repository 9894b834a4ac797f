using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Sessions.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Sessions.Tests;

/// <summary>Agent sessions, the config directory and their routes through the gateway, with a real PTY and a real tmux.</summary>
[Trait("Category", "Redis")]
public sealed partial class SessionsThroughGatewayTests(SessionsSystem fixture) : IClassFixture<SessionsSystem>
{
    private const string Bash = "/bin/bash --norc --noprofile";

    [Fact]
    public async Task ServerSession_InputAndOutput_RoundTripOverRestAndWebSocket_ThenDelete()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile);
        Assert.Equal($"{profile} 1", id);
        await using (var socket = await fixture.ConnectAsync(id))
        {
            // $((6*7)) is expanded by bash: "42ws" appears only in its output, never in the echoed command line.
            await socket.SendAsync("echo $((6*7))ws\r");
            await socket.WaitForAsync("42ws");

            var (status, body) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), Encoding.UTF8.GetBytes("echo $((6*7))rest\r"));
            Assert.Equal(200, status);
            Assert.Equal(18, (int)body!["bytes"]!);
            await socket.WaitForAsync("42rest");
            await fixture.WaitForOutputAsync(id, "42rest");
        }

        var (listStatus, list) = await fixture.SendAsync(HttpMethod.Get, "/api/sessions");
        Assert.Equal(200, listStatus);
        var summary = list!.AsArray().Single(s => (string?)s!["id"] == id)!;
        Assert.Equal("running", (string?)summary["status"]);
        Assert.Equal("server", (string?)summary["runner"]);
        Assert.Equal(Bash, (string?)summary["command"]);

        var (agentsStatus, agents) = await fixture.SendAsync(HttpMethod.Get, "/api/agents");
        Assert.Equal(200, agentsStatus);
        var agent = agents!.AsArray().Single(a => (string?)a!["id"] == profile)!;
        Assert.Equal(id, (string?)agent["session_id"]);
        Assert.True((bool)agent["running"]!);

        var (deleteStatus, _) = await fixture.SendAsync(HttpMethod.Delete, SessionsSystem.SessionPath(id));
        Assert.Equal(204, deleteStatus);
        var (afterStatus, after) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "output"));
        Assert.Equal(404, afterStatus);
        Assert.Equal("not_found", (string?)after!["code"]);
    }

    [Fact]
    public async Task ExternalSession_IsARealTmuxWindow_InputOutputActivate_VanishedWindowIs409()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile, "external");
        try
        {
            var windows = fixture.Tmux.Run("list-windows", "-a", "-F", "#{session_name}|#{window_name}|#{window_id}");
            var window = windows.Split('\n').Single(w => w.Split('|') is [_, var name, _] && name == id).Split('|');
            Assert.StartsWith("baton-", window[0]);

            await using (var socket = await fixture.ConnectAsync(id))
            {
                await socket.SendAsync("echo $((6*7))tmuxws\r");
                await socket.WaitForAsync("42tmuxws");
                var (status, body) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), Encoding.UTF8.GetBytes("echo $((6*7))tmuxrest\r"));
                Assert.Equal(200, status);
                Assert.Equal(22, (int)body!["bytes"]!);
                await socket.WaitForAsync("42tmuxrest");
            }
            // What tmux itself shows in the window is what Baton relayed.
            Assert.Contains("42tmuxrest", fixture.Tmux.Run("capture-pane", "-p", "-t", window[2]));
            await fixture.WaitForOutputAsync(id, "42tmuxrest");

            // A replay from offset 0 carries the output from the start.
            await using (var replay = await fixture.ConnectAsync(id, cursor: 0))
            {
                Assert.Equal(0, replay.Offset);
                await replay.WaitForAsync("42tmuxws");
            }

            var (activateStatus, _) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath(id, "activate"));
            Assert.Equal(204, activateStatus);

            fixture.Tmux.Run("kill-window", "-t", window[2]);
            await Eventually.WaitAsync(async () =>
            {
                var (status, _) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), "x"u8.ToArray());
                return status == 409;
            }, TimeSpan.FromSeconds(30), "input to a vanished window answers 409");
            var (inputStatus, error) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), "x"u8.ToArray());
            Assert.Equal(409, inputStatus);
            Assert.StartsWith("session window not found", (string?)error!["message"]);
            Assert.Equal("conflict", (string?)error["code"]);
            var (activateAgain, _) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath(id, "activate"));
            Assert.Equal(409, activateAgain);

            // The singleton may start again: the closed session's id is reused.
            Assert.Equal(id, await fixture.CreateSessionAsync(profile, "external"));
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task ServerSession_ActivateIs409_SingletonConflictCarriesSessionId_BadCreateBodiesAre400()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile);
        try
        {
            var (activate, activateError) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath(id, "activate"));
            Assert.Equal(409, activate);
            Assert.Equal("session is not tmux-managed", (string?)activateError!["message"]);

            var (conflict, conflictBody) = await fixture.SendAsync(HttpMethod.Post, "/api/sessions", $"{{\"agent\":\"{profile}\"}}");
            Assert.Equal(409, conflict);
            Assert.Equal(id, (string?)conflictBody!["session_id"]);
            Assert.Equal("conflict", (string?)conflictBody["code"]);

            // Gestalt's clients post without a JSON content type; the body is read as JSON all the same.
            var (plain, plainBody) = await fixture.SendAsync(HttpMethod.Post, "/api/sessions", $"{{\"agent\":\"{profile}\"}}", "application/x-www-form-urlencoded");
            Assert.Equal(409, plain);
            Assert.Equal(id, (string?)plainBody!["session_id"]);

            foreach (var (body, message) in new[]
            {
                ("{\"agent\":\"cat\",\"workflow\":true}", "invalid request body"),
                ("{}", "agent is required"),
                ("", "agent is required"),
                ("{\"agent\":\"no-such-agent\"}", "unknown agent"),
                ("{\"agent\":\"bad\"}", "unknown agent"),
                ("{\"agent\":\"cat\",\"runner\":\"cloud\"}", "runner must be"),
                ("{\"agent\":1}", "invalid request body"),
                ("[1,2]", "invalid request body"),
                // Malformed JSON never reaches the handler: the shared request validation refuses it with its own message.
                ("{\"agent\":\"cat\",\"agent\":\"cat\"}", "invalid JSON"),
                ("{\"agent\":\"cat\"", "invalid JSON"),
            })
            {
                var (status, error) = await fixture.SendAsync(HttpMethod.Post, "/api/sessions", body);
                Assert.True(status == 400, $"{body}: {status} {error?.ToJsonString()}");
                Assert.StartsWith(message, (string?)error!["message"]);
                Assert.Equal("invalid_request", (string?)error["code"]);
            }
            var (garbage, _) = await fixture.SendBytesAsync("/api/sessions", [0xff, 0x00, 0xfe, 0x7b, 0x01]);
            Assert.Equal(400, garbage);
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task Cursor_ReplaysTheLogThenLive_WithoutGapOrDuplicate_AcrossReconnects()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile);
        try
        {
            var first = await fixture.ConnectAsync(id, cursor: 0);
            await using var second = await fixture.ConnectAsync(id);
            // The numbers come out over a second or more, so the reconnect below lands in the middle of them.
            await first.SendAsync("for i in $(seq 1 400); do echo N$i.; sleep 0.004; done; echo DONE$((1+1))\r");
            await first.WaitForAsync("N120.");
            await first.DisposeAsync();
            var firstBytes = first.Bytes;
            Assert.Equal(0, first.Offset);

            await using var resumed = await fixture.ConnectAsync(id, cursor: first.Offset + firstBytes.Length);
            Assert.Equal(firstBytes.Length, resumed.Offset);
            await resumed.WaitForAsync("DONE2");
            await second.WaitForAsync("DONE2");

            var joined = Encoding.UTF8.GetString([.. firstBytes, .. resumed.Bytes]);
            Assert.Equal(Enumerable.Range(1, 400), Numbers(joined));
            // Two viewers share the session; the one that attached without a cursor saw every number too.
            Assert.Equal(Enumerable.Range(1, 400), Numbers(second.Text));

            // A full replay is byte for byte what the two halves were.
            await using var full = await fixture.ConnectAsync(id, cursor: 0);
            await full.WaitForAsync("DONE2");
            Assert.Equal(Encoding.UTF8.GetString(full.Bytes)[..joined.Length], joined);

            // History pages backwards through the same log without losing a line.
            var lines = new List<string>();
            long? before = null;
            for (var page = 0; page < 100; page++)
            {
                var query = before is null ? "?lines=50" : $"?lines=50&before_cursor={before}";
                var (status, body) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "history") + query);
                Assert.Equal(200, status);
                lines.InsertRange(0, body!["lines"]!.AsArray().Select(l => (string)l!));
                before = (long?)body["cursor"];
                if (before is null)
                {
                    break;
                }
            }
            Assert.Equal(Enumerable.Range(1, 400), lines.Select(l => NumberLine().Match(l)).Where(m => m.Success)
                .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task Notify_ValidatesTheEnvelopeAsGestaltDoes_ProgressIsRecorded()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile);
        var path = SessionsSystem.SessionPath(id, "notify");
        try
        {
            string Envelope(string extra = "", string? sessionId = null, string payload = "{\"type\":\"agent-turn-complete\",\"turn\":3}") =>
                $"{{\"session_id\":\"{sessionId ?? id}\",\"occurred_at\":\"2026-11-30T10:00:00Z\",\"payload\":{payload},\"event_id\":\"codex-notify:turn-3\"{extra}}}";
            foreach (var (body, status, message) in new[]
            {
                (Envelope(sessionId: "Other 1"), 400, "session id mismatch"),
                (Envelope(",\"agent_id\":\"x\""), 400, "invalid request body"),
                (Envelope(",\"agent_name\":\"x\""), 400, "invalid request body"),
                (Envelope(",\"source\":\"x\""), 400, "invalid request body"),
                (Envelope(",\"event_type\":\"x\""), 400, "invalid request body"),
                ("{\"payload\":{\"type\":\"x\"}}", 400, "missing session id"),
                ($"{{\"session_id\":\"{id}\"}}", 422, "missing payload"),
                (Envelope(payload: "[1]"), 422, "payload must be a JSON object"),
                (Envelope(payload: "{\"turn\":1}"), 422, "missing payload type"),
                (Envelope(payload: "{\"type\":\"  \"}"), 422, "missing payload type"),
                (Envelope(payload: "{\"type\":\"progress\"}"), 422, "missing plan_file"),
                // Malformed JSON never reaches the handler: the shared request validation refuses it with its own message.
                ("not json", 400, "invalid JSON"),
                ("{\"session_id\":\"a\",\"session_id\":\"b\"}", 400, "invalid JSON"),
            })
            {
                var (actual, error) = await fixture.SendAsync(HttpMethod.Post, path, body);
                Assert.True(actual == status, $"{body}: {actual} {error?.ToJsonString()}");
                Assert.StartsWith(message, (string?)error!["message"]);
            }
            var (unknown, unknownError) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath("Nobody 1", "notify"),
                Envelope(sessionId: "Nobody 1"));
            Assert.Equal(404, unknown);
            Assert.Equal("session not found", (string?)unknownError!["message"]);

            // A valid event reaches the flow dispatcher; without one (flows not built in) it is Gestalt's 503.
            var (accepted, acceptedBody) = await fixture.SendAsync(HttpMethod.Post, path, Envelope());
            Assert.True(accepted == 204 || (accepted == 503 && (string?)acceptedBody!["message"] == "flow dispatcher unavailable"),
                $"{accepted} {acceptedBody?.ToJsonString()}");

            var (none, noProgress) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "progress"));
            Assert.Equal(200, none);
            Assert.Equal("{\"has_progress\":false}", noProgress!.ToJsonString());
            var progress = "{\"type\":\"progress\",\"plan_file\":\"plans/2026-01-26-sample.org\",\"l1\":\"* WIP [#A] First L1\",\"l2\":\"TODO L2 One\",\"task_level\":\"2\",\"task_state\":\"wip\"}";
            var (progressStatus, progressError) = await fixture.SendAsync(HttpMethod.Post, path, Envelope(payload: progress));
            Assert.True(progressStatus == 204, progressError?.ToJsonString());
            var (_, recorded) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "progress"));
            Assert.True((bool)recorded!["has_progress"]!);
            Assert.Equal("2026-01-26-sample.org", (string?)recorded["plan_file"]);
            Assert.Equal("First L1", (string?)recorded["l1"]);
            Assert.Equal("L2 One", (string?)recorded["l2"]);
            Assert.Equal(2, (int)recorded["task_level"]!);
            Assert.Equal("2026-11-30T10:00:00Z", (string?)recorded["updated_at"]);

            var (bell, _) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath(id, "bell"));
            Assert.Equal(204, bell);
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task InputHistory_IsPersistedPerSessionId_AndQueryIsValidated()
    {
        var profile = fixture.NewProfile(Bash);
        var id = await fixture.CreateSessionAsync(profile);
        var path = SessionsSystem.SessionPath(id, "input-history");
        try
        {
            foreach (var command in new[] { "git status", "make test", "ls -la" })
            {
                var (status, body) = await fixture.SendAsync(HttpMethod.Post, path, new JsonObject { ["command"] = command }.ToJsonString());
                Assert.True(status == 204, body?.ToJsonString());
            }
            foreach (var (body, message) in new[] { ("{\"command\":\"  \"}", "missing command"), ("{}", "missing command"), ("{\"command\":\"x\",\"extra\":1}", "invalid request body"), ("{\"command\":5}", "invalid request body") })
            {
                var (status, error) = await fixture.SendAsync(HttpMethod.Post, path, body);
                Assert.True(status == 400, $"{body}: {status}");
                Assert.StartsWith(message, (string?)error!["message"]);
            }
            var (ok, entries) = await fixture.SendAsync(HttpMethod.Get, path + "?limit=2");
            Assert.Equal(200, ok);
            Assert.Equal(["make test", "ls -la"], entries!.AsArray().Select(e => (string)e!["command"]!));
            foreach (var query in new[] { "?limit=0", "?limit=abc", "?since=yesterday" })
            {
                var (status, _) = await fixture.SendAsync(HttpMethod.Get, path + query);
                Assert.Equal(400, status);
            }

            // Persisted: the next session with the same id has the same history.
            await fixture.DeleteSessionAsync(id);
            Assert.Equal(id, await fixture.CreateSessionAsync(profile));
            var (_, again) = await fixture.SendAsync(HttpMethod.Get, path);
            Assert.Equal(["git status", "make test", "ls -la"], again!.AsArray().Select(e => (string)e!["command"]!));
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task BadInput_IsAlways4xx_NeverA5xx()
    {
        // Raw mode: the random bytes below include ^C and ^D, which would otherwise end cat.
        var profile = fixture.NewProfile("/bin/sh -c \"stty raw -echo; exec cat\"", singleton: false);
        var id = await fixture.CreateSessionAsync(profile);
        try
        {
            // Binary garbage is input like any other: it reaches the terminal.
            var garbage = new byte[4096];
            new Random(7).NextBytes(garbage);
            var (binary, binaryBody) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), garbage);
            Assert.Equal(200, binary);
            Assert.Equal(4096, (int)binaryBody!["bytes"]!);

            var (huge, _) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), new byte[2 * 1024 * 1024]);
            Assert.Equal(413, huge);
            var (empty, emptyError) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input"), []);
            Assert.Equal(400, empty);
            Assert.Equal("invalid request body", (string?)emptyError!["message"]);
            var (notifyGarbage, _) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "notify"), garbage);
            Assert.Equal(400, notifyGarbage);
            var (historyGarbage, _) = await fixture.SendBytesAsync(SessionsSystem.SessionPath(id, "input-history"), garbage);
            Assert.Equal(400, historyGarbage);

            foreach (var query in new[] { "?lines=0", "?lines=-5", "?lines=ten", "?before_cursor=-1", "?before_cursor=x", "?lines=99999999999" })
            {
                var (status, _) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "history") + query);
                Assert.True(status == 400, $"history{query}: {status}");
            }

            foreach (var raw in new[]
            {
                "/api/sessions/..%2F..%2Fetc%2Fpasswd/output", "/api/sessions/%2e%2e/output", "/api/sessions/a%00b/output",
                "/api/sessions/..%5C..%5Cwin/input", "/api/sessions/" + new string('x', 5000) + "/output", "/api/sessions/%ff%fe/bell",
            })
            {
                using var response = await fixture.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, raw) { Content = new ByteArrayContent("x"u8.ToArray()) });
                Assert.True((int)response.StatusCode is >= 400 and < 500, $"{raw[..Math.Min(raw.Length, 60)]}: {(int)response.StatusCode}");
                using var get = await fixture.Http.GetAsync(raw);
                Assert.True((int)get.StatusCode is >= 400 and < 500, $"GET {raw[..Math.Min(raw.Length, 60)]}: {(int)get.StatusCode}");
            }

            foreach (var (sessionId, cursor) in new[] { ("../../etc", "0"), ("Nobody 1", "0"), (id, "-1"), (id, "abc") })
            {
                using var socket = new ClientWebSocket();
                socket.Options.SetRequestHeader("Authorization", "Bearer " + fixture.System.Token);
                socket.Options.CollectHttpResponseDetails = true;
                var uri = new Uri($"ws://{fixture.System.GatewayUrl.Authority}/ws/session/{Uri.EscapeDataString(sessionId)}?cursor={cursor}");
                await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, CancellationToken.None));
                Assert.True((int)socket.HttpStatusCode is >= 400 and < 500, $"{sessionId} cursor={cursor}: {(int)socket.HttpStatusCode}");
            }

            // The session survived all of it.
            await using var viewer = await fixture.ConnectAsync(id);
            await viewer.SendAsync("still-alive\n");
            await viewer.WaitForAsync("still-alive");
        }
        finally
        {
            await fixture.DeleteSessionAsync(id);
        }
    }

    [Fact]
    public async Task ConfigDirectory_MalformedFileIsReportedAndHidesNothing_ChangesArePickedUpLive()
    {
        await Eventually.WaitAsync(() => Task.FromResult(fixture.System.Output.Contains(SessionsSystem.BadProfileLine, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the malformed profile reported by name and line in the log");

        var (status, agents) = await fixture.SendAsync(HttpMethod.Get, "/api/agents");
        Assert.Equal(200, status);
        var ids = agents!.AsArray().Select(a => (string?)a!["id"]).ToList();
        Assert.Contains("shell", ids);
        Assert.Contains("cat", ids);
        Assert.DoesNotContain("bad", ids);
        var shell = agents.AsArray().Single(a => (string?)a!["id"] == "shell")!;
        Assert.Equal("Shell", (string?)shell["name"]);
        Assert.Equal("codex", (string?)shell["llm_type"]);
        Assert.Equal("gpt-test", (string?)shell["model"]);
        Assert.Equal("cli", (string?)shell["interface"]);
        Assert.False((bool)shell["hidden"]!);

        var (skillsStatus, skills) = await fixture.SendAsync(HttpMethod.Get, "/api/skills?agent=shell");
        Assert.Equal(200, skillsStatus);
        var skill = Assert.Single(skills!.AsArray())!;
        Assert.Equal("git-flow", (string?)skill["name"]);
        Assert.Equal("Branching the team's way", (string?)skill["description"]);
        Assert.Equal("MIT", (string?)skill["license"]);
        Assert.True((bool)skill["has_scripts"]!);
        Assert.False((bool)skill["has_assets"]!);
        var (unknownAgent, _) = await fixture.SendAsync(HttpMethod.Get, "/api/skills?agent=nobody");
        Assert.Equal(404, unknownAgent);

        var (plansStatus, plans) = await fixture.SendAsync(HttpMethod.Get, "/api/plans");
        Assert.Equal(200, plansStatus);
        var plan = plans!["plans"]!.AsArray().Single(p => (string?)p!["filename"] == "2026-01-26-sample.org")!;
        Assert.Equal("Sample Plan", (string?)plan["title"]);
        Assert.Equal(2, (int)plan["l1_count"]!);
        Assert.Equal(2, (int)plan["l2_count"]!);
        Assert.Equal(0, (int)plan["priority_a"]!);
        Assert.Equal(1, (int)plan["priority_b"]!);
        Assert.Equal("WIP", (string?)plan["headings"]![0]!["keyword"]);
        Assert.Equal("L2 One", (string?)plan["headings"]![0]!["children"]![0]!["text"]);

        // Live: a new profile, a fixed one and a new plan appear without a restart; a deleted profile goes.
        fixture.Config.Write("agents/late.toml", "name = \"Late\"\nshell = \"cat\"\nhidden = true\n");
        fixture.Config.Write("plans/2026-02-01-next.org", "#+TITLE: Next\n* TODO Only\n");
        await Eventually.WaitAsync(async () =>
        {
            var (_, list) = await fixture.SendAsync(HttpMethod.Get, "/api/agents");
            var (_, planList) = await fixture.SendAsync(HttpMethod.Get, "/api/plans");
            return list!.AsArray().Any(a => (string?)a!["id"] == "late" && (bool)a["hidden"]!)
                && (string?)planList!["plans"]![0]!["filename"] == "2026-02-01-next.org";
        }, TimeSpan.FromSeconds(30), "the new profile and plan listed");
        fixture.Config.Write("agents/late-broken.toml", "name = [\n");
        await Eventually.WaitAsync(() => Task.FromResult(fixture.System.Output.Contains("agents/late-broken.toml:", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the new malformed profile reported");
        File.Delete(Path.Combine(fixture.Config.Path, "agents/late.toml"));
        await Eventually.WaitAsync(async () =>
        {
            var (_, list) = await fixture.SendAsync(HttpMethod.Get, "/api/agents");
            return list!.AsArray().All(a => (string?)a!["id"] != "late") && list.AsArray().Any(a => (string?)a!["id"] == "shell");
        }, TimeSpan.FromSeconds(30), "the deleted profile gone, the others still there");
    }

    private static IEnumerable<int> Numbers(string text) =>
        NumberToken().Matches(text).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    // "N<number>." ending an output line (the echoed command line has "N$i." instead; the first may follow the prompt).
    [GeneratedRegex(@"N(\d+)\.\r\n")]
    private static partial Regex NumberToken();

    [GeneratedRegex(@"N(\d+)\.$")]
    private static partial Regex NumberLine();
}
