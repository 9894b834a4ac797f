using Baton.Contracts.Runs.V1;
using Baton.Runs.Tests.Infrastructure;
using Grpc.Core;

namespace Baton.Runs.Tests;

public sealed class TerminalTests
{
    private const string EchoLoop = "while IFS= read -r line; do if [ \"$line\" = size ]; then stty size; else echo \"got:$line\"; fi; done";

    [Fact]
    public async Task TwoViewers_ShareTheRunPty_EitherTypes_AndResizeReachesTheChild()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { cli_name = "custom", provider_config = new { command = "echo ready; " + EchoLoop } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "terminal"))["id"]!;
        await host.WaitForStatusAsync(runId, "running");

        await using var first = new TerminalClient(host.Client, new TerminalOpen { RunId = runId });
        await first.WaitForAsync("ready");
        await using var second = new TerminalClient(host.Client, new TerminalOpen { RunId = runId });
        await second.WaitForAsync("ready"); // recent output replayed to a late viewer

        await first.SendAsync("hello\n");
        await first.WaitForAsync("got:hello");
        await second.WaitForAsync("got:hello");
        await second.SendAsync("from-two\n");
        await first.WaitForAsync("got:from-two");

        // Resize and the command that reads the size travel on one stream, so they arrive in order.
        await second.ResizeAsync(100, 40);
        await second.SendAsync("size\n");
        await first.WaitForAsync("40 100");
        await first.SendAsync("\u001b[RESIZE:90:20");
        await first.SendAsync("size\n");
        await second.WaitForAsync("20 90");
        var status = await host.Client.GetStatusAsync(new Baton.Contracts.Common.V1.StatusRequest());
        Assert.Equal(2, status.Counters["terminal_viewers"]);

        await host.PostJsonAsync($"/api/runs/{runId}/cancel", new { });
        await Eventually.WaitAsync(() => first.Exit is not null && second.Exit is not null, TimeSpan.FromSeconds(15), () => "viewers never saw the end");
        using var logs = await host.Http.GetAsync($"/api/runs/{runId}/logs");
        Assert.Contains("got:from-two", await logs.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PausedRun_TerminalResumesItsSessionInteractively_AndTheRunFollowsTheCli()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var stateDir = RunsHost.NewTempDir("state");
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { provider_config = new { env = new { FAKE_STATE_DIR = stateDir } } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "SLEEP then wait"))["id"]!;
        await host.WaitForStatusAsync(runId, "running");
        await Eventually.WaitAsync(async () => (await host.GetRunAsync(runId))["session_id"] is not null, TimeSpan.FromSeconds(15), () => "no session id");
        await host.PostJsonAsync($"/api/runs/{runId}/pause", new { });
        var sessionId = (string)(await host.GetRunAsync(runId))["session_id"]!;

        // Paused: no process, so opening the terminal resumes the CLI's own UI on the run's session.
        var first = new TerminalClient(host.Client, new TerminalOpen { RunId = runId, Cols = 100, Rows = 30 });
        await first.WaitForAsync($"fake-claude interactive, session {sessionId}");
        Assert.Contains(sessionId, File.ReadAllLines(Path.Combine(stateDir, "resume.log")));
        var started = (await host.GetEventsAsync(runId)).Single(e => (string?)e!["event_type"] == "terminal.started")!;
        Assert.Equal(sessionId, (string?)started["payload"]!["session_id"]);
        Assert.Equal("paused", (string?)(await host.GetRunAsync(runId))["status"]);

        // A prompt typed there drives the run through the CLI's hooks: running, then paused again.
        var pausesBefore = (await host.GetEventsAsync(runId)).Count(e => (string?)e!["event_type"] == "run.paused");
        await first.SendAsync("add a README\n");
        await first.WaitForAsync("you said: add a README");
        await Eventually.WaitAsync(async () => (await host.GetEventsAsync(runId)).Count(e => (string?)e!["event_type"] == "run.paused") > pausesBefore,
            TimeSpan.FromSeconds(15), () => "the Stop hook never paused the run");
        var events = await host.GetEventsAsync(runId);
        Assert.Contains(events, e => (string?)e!["event_type"] == "run.started" && (string?)e["payload"]!["source"] == "hook");

        // The session belongs to the run, not to the viewer: it outlives the first viewer, and the
        // next one joins the same terminal instead of starting another CLI.
        await first.DisposeAsync();
        await using var second = new TerminalClient(host.Client, new TerminalOpen { RunId = runId });
        await second.WaitForAsync("you said: add a README");
        Assert.Single(await host.GetEventsAsync(runId), e => (string?)e!["event_type"] == "terminal.started");

        await second.SendAsync("/exit\n");
        await Eventually.WaitAsync(() => second.Exit is not null, TimeSpan.FromSeconds(15), () => "the interactive CLI never exited");
        Assert.Equal(0, second.Exit!.ExitCode);
        await host.WaitForStatusAsync(runId, "completed");
    }

    [Fact]
    public async Task RunWithNothingToResume_TerminalReplaysItsOutput_AndEnds()
    {
        await using var host = await RunsHost.StartAsync();
        var project = await host.CreateProjectWithRepoAsync();
        var agent = await host.CreateAgentAsync((string)project["id"]!, new { cli_name = "custom", provider_config = new { command = "echo custom-output; " + EchoLoop } });
        var runId = (string)(await host.CreateRunAsync((string)agent["id"]!, "t"))["id"]!;
        await host.WaitForStatusAsync(runId, "running");
        await host.PostJsonAsync($"/api/runs/{runId}/pause", new { });

        // A custom command has no interactive resume: the recorded output, then the end.
        await using var viewer = new TerminalClient(host.Client, new TerminalOpen { RunId = runId });
        await Eventually.WaitAsync(() => viewer.Exit is not null, TimeSpan.FromSeconds(15), () => "the terminal never ended");
        Assert.Equal("the run has no live terminal", viewer.Exit!.Reason);
        Assert.Contains("custom-output", viewer.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(await host.GetEventsAsync(runId), e => (string?)e!["event_type"] == "terminal.started");
        Assert.Equal("paused", (string?)(await host.GetRunAsync(runId))["status"]);
    }

    [Fact]
    public async Task EphemeralTerminal_RunsTheCli_AndIsKilledWhenItsViewerLeaves()
    {
        await using var host = await RunsHost.StartAsync();
        var cwd = RunsHost.NewTempDir("eph");
        var viewer = new TerminalClient(host.Client, new TerminalOpen { Cwd = cwd, Cli = "/bin/sh", Cols = 80, Rows = 24 });
        await viewer.SendAsync("pwd; stty size\n");
        await viewer.WaitForAsync(cwd);
        await viewer.WaitForAsync("24 80");
        var active = await host.Client.GetStatusAsync(new Baton.Contracts.Common.V1.StatusRequest());
        Assert.Equal(1, active.Counters["sessions_active"]);
        await viewer.DisposeAsync();
        await Eventually.WaitAsync(async () => (await host.Client.GetStatusAsync(new Baton.Contracts.Common.V1.StatusRequest())).Counters["sessions_active"] == 0,
            TimeSpan.FromSeconds(15), () => "ephemeral terminal still alive");
    }

    [Fact]
    public async Task Terminal_OfUnknownRun_IsNotFound()
    {
        await using var host = await RunsHost.StartAsync();
        using var call = host.Client.Terminal();
        await call.RequestStream.WriteAsync(new TerminalInput { Open = new TerminalOpen { RunId = Guid.NewGuid().ToString() } });
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }
}
