using Baton.Cli.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Cli.Tests;

/// <summary><c>baton attach</c> driven through a real terminal: tmux runs it, keys are typed with send-keys.</summary>
[Trait("Category", "Redis")]
public sealed class AttachTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Attach_InTmux_KeysAndResizeReachThePty_CtrlBracketDetaches_RunKeepsGoing_TerminalRestoredEvenWhenTheGatewayDies()
    {
        await using var baton = await CliSystem.StartAsync();
        await baton.CreateProjectAndAgentAsync("tty", "echo");
        var runId = await baton.StartRunAsync("echo", "be an echo");
        await Eventually.WaitAsync(async () => await baton.RunStatusAsync(runId) == "running", Wait, "run running");

        var scratch = TestEnvironment.NewDirectory("baton-cli-tty");
        try
        {
            var environment = new Dictionary<string, string?>(baton.Cli.Environment) { ["XDG_CONFIG_HOME"] = baton.Cli.ConfigHome, ["PS1"] = "$ " };
            using var tmux = Tmux.Start(100, 30, environment, scratch);
            // The shell records the terminal's settings before and after, and baton's exit code.
            tmux.Type($"stty -g > before; {BatonCli.CommandLine} attach {runId[..8]}; echo $? > exit1; stty -g > after1");
            await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("Ctrl-] detaches", StringComparison.Ordinal)), Wait, "attached");
            // The recent output comes first: the agent's greeting was printed before we attached.
            await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("ready", StringComparison.Ordinal)), Wait, "recent output replayed");

            tmux.Type("hello from tmux");
            await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("got:hello from tmux", StringComparison.Ordinal)), Wait,
                "typed keys reached the PTY");

            tmux.Resize(87, 23);
            // SIGWINCH reaches baton asynchronously: ask the child until it reports the new size.
            await Eventually.WaitAsync(() =>
            {
                tmux.Type("size");
                return Task.FromResult(tmux.Screen().Contains("23 87", StringComparison.Ordinal));
            }, Wait, "resize reached the child's PTY");

            tmux.SendBytes(0x1d);
            await Eventually.WaitAsync(() => Task.FromResult(Tmux.Wrote(Path.Combine(scratch, "after1"))), Wait, "baton exited after Ctrl-]");
            Assert.Equal("0", File.ReadAllText(Path.Combine(scratch, "exit1")).Trim());
            Assert.Equal(File.ReadAllText(Path.Combine(scratch, "before")), File.ReadAllText(Path.Combine(scratch, "after1")));
            Assert.Contains("detached from run", tmux.Screen(), StringComparison.Ordinal);
            Assert.Equal("running", await baton.RunStatusAsync(runId));

            // Attach again: the run kept its PTY; then the gateway goes away under us.
            tmux.Type($"{BatonCli.CommandLine} attach {runId}; echo $? > exit2; stty -g > after2");
            tmux.Type("second visit");
            await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains("got:second visit", StringComparison.Ordinal)), Wait, "re-attached");
            await baton.System.StopServiceAsync("gateway");
            await Eventually.WaitAsync(() => Task.FromResult(Tmux.Wrote(Path.Combine(scratch, "after2"))), Wait, "baton exited when the gateway stopped");
            Assert.Equal(File.ReadAllText(Path.Combine(scratch, "before")), File.ReadAllText(Path.Combine(scratch, "after2")));
            var screen = tmux.Screen();
            Assert.DoesNotContain("   at ", screen, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", screen, StringComparison.Ordinal);
        }
        finally
        {
            TestEnvironment.DeleteQuietly(scratch);
        }
    }
}
