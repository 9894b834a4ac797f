using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Sessions.Tests.Infrastructure;

namespace Baton.Sessions.Tests;

public sealed partial class SessionsThroughGatewayTests
{
    /// <summary>
    /// A notify event runs the flows that match it (NOTES §1.5: the event type mapped from payload.type, <c>where
    /// session.id</c> matching the agent's sessions by prefix, <c>{{token}}</c> templates): <c>send_to_terminal</c>
    /// really types into the session's PTY and <c>spawn_agent_session</c> really starts a session; an event id is
    /// acted on once however often it is delivered.
    /// </summary>
    [Fact]
    public async Task NotifyEvent_RunsItsFlows_SendToTerminalTypesIntoTheSession_SpawnStartsOne_OncePerEventId()
    {
        var profile = fixture.NewProfile(Bash);
        var spawned = fixture.NewProfile("cat");
        var id = await fixture.CreateSessionAsync(profile);
        try
        {
            // bash evaluates $((n*2)): "turn-6-<id>" appears only in its output, never in the typed command line.
            var yaml = $$$"""
                version: 1
                flows:
                  - id: turn-{{{profile}}}
                    event_type: agent-turn-complete
                    where: {session.id: {{{profile}}}}
                    bindings:
                      - activity_id: send_to_terminal
                        config: {target_session_id: "{{session_id}}", message_template: "echo turn-$(({{notify.turn}}*2))-{{session_id}}"}
                      - activity_id: spawn_agent_session
                        config: {agent_id: {{{spawned}}}, reuse_if_running: true, title_template: "spawned by {{session_id}}"}
                """;
            using (var content = new StringContent(yaml, Encoding.UTF8))
            {
                content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/yaml");
                using var imported = await fixture.Http.PostAsync("/api/flow/config/import", content);
                Assert.True(imported.IsSuccessStatusCode, await imported.Content.ReadAsStringAsync());
            }

            string Envelope(int turn, string eventId) => new JsonObject
            {
                ["session_id"] = id,
                ["payload"] = new JsonObject { ["type"] = "agent-turn-complete", ["turn"] = turn },
                ["event_id"] = eventId,
            }.ToJsonString();
            foreach (var (turn, eventId) in new[] { (3, "turn-3"), (3, "turn-3"), (4, "turn-4") })
            {
                var (status, body) = await fixture.SendAsync(HttpMethod.Post, SessionsSystem.SessionPath(id, "notify"), Envelope(turn, eventId));
                Assert.True(status == 204, $"notify {eventId}: {status} {body?.ToJsonString()}");
            }

            await fixture.WaitForOutputAsync(id, $"turn-8-{id}");
            var (_, output) = await fixture.SendAsync(HttpMethod.Get, SessionsSystem.SessionPath(id, "output"));
            Assert.Single(output!["lines"]!.AsArray(), l => ((string?)l)!.EndsWith($"turn-6-{id}", StringComparison.Ordinal));

            var (_, sessions) = await fixture.SendAsync(HttpMethod.Get, "/api/sessions");
            var started = Assert.Single(sessions!.AsArray(), s => ((string?)s!["id"])!.StartsWith(spawned + " ", StringComparison.Ordinal))!;
            Assert.Equal($"spawned by {id}", (string?)started["title"]);
            await fixture.DeleteSessionAsync((string)started["id"]!);
        }
        finally
        {
            await fixture.SendAsync(HttpMethod.Put, "/api/flow/config", "{\"version\":1,\"triggers\":[]}");
            await fixture.DeleteSessionAsync(id);
        }
    }
}
