using System.Text.Json.Nodes;
using Baton.Cli.Sessions;
using Baton.Cli.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Cli.Tests;

/// <summary>
/// Agent sessions through the CLI: a config directory with a profile whose "CLI" is an echo loop, started, typed
/// into with <c>baton send</c>, attached in a real terminal (tmux), reported on with <c>baton notify</c> as Codex
/// calls it, and ended.
/// </summary>
[Trait("Category", "Redis")]
public sealed class SessionsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Sessions_NewSendHistoryAttachNotifyRm_ThroughTheCli()
    {
        var config = TestEnvironment.NewDirectory("baton-cli-agents");
        var scratch = TestEnvironment.NewDirectory("baton-cli-tty");
        try
        {
            Directory.CreateDirectory(Path.Combine(config, "agents"));
            // A profile's shell is split into argv (no shell in between), so the loop lives in a script.
            var script = Path.Combine(config, "echo-loop.sh");
            File.WriteAllText(script, CliSystem.EchoLoop + "\n");
            File.WriteAllText(Path.Combine(config, "agents", "echo.toml"), $"name = \"Echo\"\nshell = '/bin/sh {script}'\ncli_type = \"codex\"\n");
            await using var baton = await CliSystem.StartAsync(o => o.Environment["BATON_CONFIG_DIR"] = config);
            var cli = baton.Cli;

            var created = JsonNode.Parse((await cli.RunOkAsync("sessions", "new", "--agent", "echo", "-o", "json")).Stdout)!;
            var id = (string)created["id"]!;
            Assert.Equal("Echo 1", id);
            Assert.Equal("server", (string?)created["runner"]);
            var listing = await cli.RunOkAsync("sessions", "ls", "-o", "json");
            var listed = JsonNode.Parse(listing.Stdout)!.AsArray();
            Assert.True(listed.Count == 1, $"{listing} {created.ToJsonString()} {(await cli.RunAsync("sessions", "history", id))}");
            Assert.Equal(id, (string?)listed[0]!["id"]);
            Assert.Contains("Echo 1", (await cli.RunOkAsync("sessions")).Stdout, StringComparison.Ordinal);
            // A singleton already running: Baton's 409, exit 1, one line.
            var again = await cli.RunAsync("sessions", "new", "--agent", "echo");
            Assert.True(again.ExitCode == 1, again.ToString());
            Assert.Single(again.Stderr.Trim().Split('\n'));
            Assert.Equal(2, (await cli.RunAsync("sessions", "new", "--agent", "nobody")).ExitCode);

            // gestalt-send: the text and Enter reach the session's terminal; history shows what it printed.
            var sent = JsonNode.Parse((await cli.RunOkAsync("send", id, "hello session", "-o", "json")).Stdout)!;
            Assert.Equal("hello session".Length + 1, (int)sent["bytes"]!);
            await Eventually.WaitAsync(async () => (await cli.RunOkAsync("sessions", "history", id)).Stdout.Contains("got:hello session", StringComparison.Ordinal),
                Wait, "the echo in the session's history");
            var page = JsonNode.Parse((await cli.RunOkAsync("sessions", "history", id, "-n", "50", "-o", "json")).Stdout)!;
            Assert.Contains(page["lines"]!.AsArray(), l => (string?)l == "got:hello session");
            Assert.Equal(3, (await cli.RunAsync("send", "Nobody 9", "x")).ExitCode);

            // baton attach <session> in a real terminal: recent output first, keys, resize, Ctrl-] leaves it running.
            var environment = new Dictionary<string, string?>(cli.Environment) { ["XDG_CONFIG_HOME"] = cli.ConfigHome, ["PS1"] = "$ " };
            using (var tmux = Tmux.Start(100, 30, environment, scratch))
            {
                tmux.Type($"stty -g > before; {BatonCli.CommandLine} attach '{id}'; echo $? > exit1; stty -g > after1");
                await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("attached to session Echo 1", StringComparison.Ordinal)), Wait, "attached");
                await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("got:hello session", StringComparison.Ordinal)), Wait, "recent output replayed");
                tmux.Type("typed in tmux");
                await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("got:typed in tmux", StringComparison.Ordinal)), Wait, "keys reached the session");
                tmux.Resize(91, 27);
                await Eventually.WaitAsync(() =>
                {
                    tmux.Type("size");
                    return Task.FromResult(tmux.Screen().Contains("27 91", StringComparison.Ordinal));
                }, Wait, "resize reached the session's PTY");
                tmux.SendBytes(0x1d);
                await Eventually.WaitAsync(() => Task.FromResult(Tmux.Wrote(Path.Combine(scratch, "after1"))), Wait, "baton exited after Ctrl-]");
                Assert.Equal("0", File.ReadAllText(Path.Combine(scratch, "exit1")).Trim());
                Assert.Equal(File.ReadAllText(Path.Combine(scratch, "before")), File.ReadAllText(Path.Combine(scratch, "after1")));
                Assert.Contains("detached from session Echo 1", tmux.Screen(), StringComparison.Ordinal);
            }
            Assert.Equal("running", (string?)JsonNode.Parse((await cli.RunOkAsync("sessions", "ls", "-o", "json")).Stdout)!.AsArray()[0]!["status"]);

            // baton notify as Codex runs it: the event JSON as the last argument, the session from GESTALT_SESSION_ID.
            cli.Environment[NotifyCommand.SessionVariable] = id;
            var progress = "{\"type\":\"progress\",\"plan_file\":\"plans/ship.org\",\"l1\":\"* WIP Ship it\",\"task_level\":\"1\",\"task_state\":\"wip\"}";
            await cli.RunOkAsync("notify", progress);
            using var http = baton.System.CreateClient();
            var reported = JsonNode.Parse(await http.GetStringAsync($"/api/sessions/{Uri.EscapeDataString(id)}/progress"))!;
            Assert.True((bool)reported["has_progress"]!, reported.ToJsonString());
            Assert.Equal("ship.org", (string?)reported["plan_file"]);
            Assert.Equal("Ship it", (string?)reported["l1"]);
            var turn = await cli.RunOkAsync("notify", "{\"type\":\"agent-turn-complete\",\"turn-id\":\"7\",\"last-assistant-message\":\"done\"}", "-o", "json");
            Assert.Equal("codex-notify:turn-7", (string?)JsonNode.Parse(turn.Stdout)!["event_id"]);
            // Bad events never leave the machine; a session Baton does not know is 3.
            Assert.Equal(2, (await cli.RunAsync("notify", "not json")).ExitCode);
            Assert.Equal(2, (await cli.RunAsync("notify", "{\"turn-id\":1}")).ExitCode);
            Assert.Equal(3, (await cli.RunAsync("notify", "--session-id", "Nobody 1", "{\"type\":\"agent-turn-complete\"}")).ExitCode);
            cli.Environment[NotifyCommand.SessionVariable] = null;
            var noSession = await cli.RunAsync("notify", "{\"type\":\"agent-turn-complete\"}");
            Assert.Equal(2, noSession.ExitCode);
            Assert.Contains(NotifyCommand.SessionVariable, noSession.Stderr, StringComparison.Ordinal);

            // Flows: import a trigger on these notify events from YAML, export it back; bad YAML is a usage error.
            var flows = Path.Combine(scratch, "flows.yaml");
            File.WriteAllText(flows, "version: 1\nflows:\n  - id: on-turn\n    event_type: agent-turn-complete\n    where: {session.id: Echo}\n" +
                "    bindings:\n      - activity_id: toast_notification\n        config: {level: info, message_template: 'turn done'}\n");
            var imported = await cli.RunOkAsync("flows", "import", flows);
            Assert.Contains("1 triggers", imported.Stdout, StringComparison.Ordinal);
            var exported = (await cli.RunOkAsync("flows", "export")).Stdout;
            Assert.Contains("on-turn", exported, StringComparison.Ordinal);
            Assert.Contains("toast_notification", exported, StringComparison.Ordinal);
            var exportFile = Path.Combine(scratch, "exported.yaml");
            await cli.RunOkAsync("flows", "export", "--file", exportFile);
            await cli.RunOkAsync("flows", "import", exportFile);
            File.WriteAllText(flows, "version: 1\nflows: [ {id: a, \n");
            Assert.Equal(2, (await cli.RunAsync("flows", "import", flows)).ExitCode);
            Assert.Equal(3, (await cli.RunAsync("flows", "import", Path.Combine(scratch, "missing.yaml"))).ExitCode);

            await cli.RunOkAsync("sessions", "rm", id);
            await Eventually.WaitAsync(async () => JsonNode.Parse((await cli.RunOkAsync("sessions", "ls", "-o", "json")).Stdout)!.AsArray()
                .All(s => (string?)s!["id"] != id || (string?)s["status"] == "closed"), Wait, "the session ended");
        }
        finally
        {
            TestEnvironment.DeleteQuietly(scratch);
            TestEnvironment.DeleteQuietly(config);
        }
    }
}
