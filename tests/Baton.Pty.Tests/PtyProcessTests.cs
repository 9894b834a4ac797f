using System.Diagnostics;
using System.Text;
using Baton.Pty;

namespace Baton.Pty.Tests;

public sealed class PtyProcessTests
{
    [Fact]
    public async Task SttySize_ReportsSpawnSize_ThenNewSizeAfterResize()
    {
        var (process, output) = Pty.Start(Pty.Bash(
            "stty size; trap 'echo; echo \"NOW $(stty size)\"' WINCH; echo READY; while :; do sleep 5 & wait $!; done",
            columns: 100, rows: 40));
        await using var _ = process;

        await output.WaitForTextAsync("READY");
        Assert.Contains("40 100", output.Text, StringComparison.Ordinal);

        process.Resize(132, 50);

        await output.WaitForTextAsync("NOW 50 132");
        Assert.Equal((132, 50), process.GetSize());
    }

    [Fact]
    public async Task Exit3_ExitedReturns3_EvenWithDotNetSigchldHandlingActive()
    {
        // Starting a Process installs .NET's SIGCHLD handling; our waitpid(pid) must still see our child.
        using (var dotnetChild = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            await dotnetChild.WaitForExitAsync();
        }

        var (process, _) = Pty.Start(Pty.Bash("exit 3"));
        await using var _ = process;

        Assert.Equal(3, await process.Exited.WaitAsync(Pty.Timeout));
        await process.OutputCompleted.WaitAsync(Pty.Timeout);
    }

    [Fact]
    public async Task KilledBySigkill_ExitedReturns137()
    {
        var (process, _) = Pty.Start(Pty.Bash("kill -9 $$"));
        await using var _ = process;

        Assert.Equal(137, await process.Exited.WaitAsync(Pty.Timeout));
    }

    [Fact]
    public async Task TerminateAsync_ChildIgnoringSigterm_IsKilledAfterGrace_AndGroupIsGone()
    {
        var (process, output) = Pty.Start(Pty.Bash("trap '' TERM; sleep 100 & echo \"CHILD $!\"; sleep 100"));
        await using var _ = process;
        var text = await output.WaitForTextAsync("\n");
        var child = int.Parse(text.Split("CHILD ")[1].Trim());
        Assert.True(ProcFs.IsAlive(child));

        var grace = TimeSpan.FromMilliseconds(500);
        var clock = Stopwatch.StartNew();
        await process.TerminateAsync(grace).WaitAsync(Pty.Timeout);

        Assert.True(clock.Elapsed >= grace - TimeSpan.FromMilliseconds(50), $"killed after {clock.Elapsed}");
        Assert.Equal(137, await process.Exited);
        await Pty.WaitUntilAsync(() => ProcFs.LiveGroupMembers(process.Pid).Count == 0, "the process group is gone");
        Assert.False(ProcFs.IsAlive(child));
    }

    [Fact]
    public async Task TerminateAsync_CooperativeChild_ExitsOnSigterm()
    {
        var (process, output) = Pty.Start(Pty.Bash("echo READY; sleep 100"));
        await using var _ = process;
        await output.WaitForTextAsync("READY");

        await process.TerminateAsync(TimeSpan.FromSeconds(10)).WaitAsync(Pty.Timeout);

        Assert.Equal(143, await process.Exited);
    }

    [Fact]
    public async Task LeaderExits_BackgroundGrandchildrenIgnoringSighup_AreKilled()
    {
        // The kernel SIGHUPs the foreground group when the session leader exits; these ignore it.
        var (process, output) = Pty.Start(Pty.Bash(
    "trap '' HUP; sleep 100 & echo \"BG $!\"; (sleep 100; :) & echo \"BG $!\"; exit 0"));
        await using var _ = process;

        Assert.Equal(0, await process.Exited.WaitAsync(Pty.Timeout));
        var text = await output.WaitForAsync(t => t.Split("BG ").Length == 3);
        var pids = text.Split("BG ")[1..].Select(part => int.Parse(part.Trim().Split('\n')[0].Trim())).ToList();

        await Pty.WaitUntilAsync(() => pids.All(pid => !ProcFs.IsAlive(pid)), "background children are dead");
        await Pty.WaitUntilAsync(() => ProcFs.LiveGroupMembers(process.Pid).Count == 0, "the process group is gone");
        await process.OutputCompleted.WaitAsync(Pty.Timeout);
    }

    [Fact]
    public async Task SignalGroup_ReachesEveryMember()
    {
        var (process, output) = Pty.Start(Pty.Bash("sleep 100 & echo READY; wait"));
        await using var _ = process;
        await output.WaitForTextAsync("READY");

        process.SignalGroup(9);

        Assert.Equal(137, await process.Exited.WaitAsync(Pty.Timeout));
        await Pty.WaitUntilAsync(() => ProcFs.LiveGroupMembers(process.Pid).Count == 0, "the process group is gone");
    }

    [Fact]
    public async Task AfterExit_SignalsAndTerminate_AreNoOps()
    {
        var (process, _) = Pty.Start(Pty.Bash("exit 7"));
        await using var _ = process;
        Assert.Equal(7, await process.Exited.WaitAsync(Pty.Timeout));

        process.SignalGroup(9);
        process.Signal(15);
        await process.TerminateAsync(TimeSpan.FromSeconds(30)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(7, await process.Exited);
    }

    [Fact]
    public async Task WriteAsync_AfterDispose_Throws()
    {
        var (process, _) = Pty.Start(Pty.Bash("read"));
        await process.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => process.WriteAsync("x"u8.ToArray()).AsTask());
        Assert.True(process.OutputCompleted.IsCompleted);
        Assert.Equal(143, await process.Exited);
    }

    [Fact]
    public async Task Child_HasDefaultSigpipe_YesPipedToHeadEndsNormally()
    {
        var (process, output) = Pty.Start(Pty.Bash("yes | head -1; echo \"STATUS ${PIPESTATUS[0]}\""));
        await using var _ = process;

        Assert.Equal(0, await process.Exited.WaitAsync(Pty.Timeout));
        await process.OutputCompleted.WaitAsync(Pty.Timeout);
        Assert.Contains("STATUS 141", output.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Broken pipe", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WriteAsync_InputReachesChild()
    {
        var (process, output) = Pty.Start(Pty.Bash("echo READY; read line; echo \"GOT:$line\""));
        await using var _ = process;
        await output.WaitForTextAsync("READY");

        await process.WriteAsync(Encoding.UTF8.GetBytes("hello pty\n"));

        await output.WaitForTextAsync("GOT:hello pty");
        Assert.Equal(0, await process.Exited.WaitAsync(Pty.Timeout));
    }

    [Fact]
    public async Task WriteAsync_LargeInput_IsDeliveredWhileChildReads()
    {
        // More than the terminal's input queue holds: the writer must wait for the reader, not fail.
        var (process, output) = Pty.Start(Pty.Bash("stty -echo -icanon; echo READY; head -c 200000 | wc -c"));
        await using var _ = process;
        await output.WaitForTextAsync("READY");

        await process.WriteAsync(new byte[200_000].Select(_ => (byte)'x').ToArray()).AsTask().WaitAsync(Pty.Timeout);

        await output.WaitForTextAsync("200000");
    }

    [Fact]
    public async Task Environment_TermAndVariablesArePassed_AndChildOwnsItsSessionAndTerminal()
    {
        var environment = new Dictionary<string, string> { ["TERM"] = "vt100", ["BATON_TEST_VAR"] = "hello world" };
        var (process, output) = Pty.Start(Pty.Bash(
            "echo \"TERM=$TERM VAR=$BATON_TEST_VAR TTY=$(tty) CWD=$(pwd)\"; read", environment));
        await using var _ = process;

        var text = await output.WaitForTextAsync("CWD=");
        Assert.Contains("TERM=vt100 VAR=hello world", text, StringComparison.Ordinal);
        Assert.Contains($"TTY={process.TerminalName}", text, StringComparison.Ordinal);
        Assert.Contains($"CWD={Path.GetTempPath().TrimEnd('/')}", text, StringComparison.Ordinal);

        var fields = ProcFs.Stat(process.Pid)!;
        Assert.Equal(process.Pid.ToString(), fields[2]); // pgrp
        Assert.Equal(process.Pid.ToString(), fields[3]); // session
        Assert.NotEqual("0", fields[4]); // controlling tty
    }

    [Fact]
    public async Task Environment_InternalSecret_IsNotInherited()
    {
        using var environment = new EnvironmentScope(("BATON_INTERNAL_SECRET", "s3cr3t-value"));
        var (process, output) = Pty.Start(Pty.Bash("echo \"SECRET=[${BATON_INTERNAL_SECRET:-none}] HOME=[$HOME]\""));
        await using var _ = process;

        await process.OutputCompleted.WaitAsync(Pty.Timeout);
        Assert.Contains("SECRET=[none]", output.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("HOME=[]", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Environment_BatonPlumbing_IsNotInherited_ButExplicitValuesAre()
    {
        using var environment = new EnvironmentScope(("GESTALT_TOKEN", "admin-token"), ("ConnectionStrings__redis", "127.0.0.1:1"));
        var (process, output) = Pty.Start(new PtySpawnOptions("bash",
            ["-c", "echo \"T=[${GESTALT_TOKEN:-none}] R=[${ConnectionStrings__redis:-none}] H=[$BATON_HOOK_SECRET]\""],
            Path.GetTempPath(), new Dictionary<string, string> { ["BATON_HOOK_SECRET"] = "run-secret" }));
        await using var _ = process;

        await process.OutputCompleted.WaitAsync(Pty.Timeout);
        Assert.Contains("T=[none] R=[none] H=[run-secret]", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Environment_DefaultTerm_IsXterm256Color()
    {
        var (process, output) = Pty.Start(new PtySpawnOptions("bash", ["-c", "echo \"TERM=$TERM\""], Path.GetTempPath(),
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }, InheritEnvironment: false));
        await using var _ = process;

        await output.WaitForTextAsync("TERM=xterm-256color");
    }

    [Fact]
    public void Spawn_MissingExecutable_ThrowsClearError()
    {
        var error = Assert.Throws<PtySpawnException>(() => PtyProcess.Spawn(new PtySpawnOptions(
            "baton-no-such-cli", [], Path.GetTempPath(), new Dictionary<string, string>())));
        Assert.Contains("'baton-no-such-cli' was not found on PATH", error.Message, StringComparison.Ordinal);

        var byPath = Assert.Throws<PtySpawnException>(() => PtyProcess.Spawn(new PtySpawnOptions(
            "/nonexistent/tool", [], Path.GetTempPath(), new Dictionary<string, string>())));
        Assert.Contains("'/nonexistent/tool' was not found", byPath.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Spawn_MissingWorkingDirectory_ThrowsClearError()
    {
        var error = Assert.Throws<PtySpawnException>(() => PtyProcess.Spawn(new PtySpawnOptions(
            "bash", [], "/nonexistent/baton-dir", new Dictionary<string, string>())));
        Assert.Contains("working directory '/nonexistent/baton-dir' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_IsCompleteWhenChildExitsImmediately()
    {
        var (process, output) = Pty.Start(Pty.Bash("for i in $(seq 1 2000); do echo \"line $i\"; done"));
        await using var _ = process;

        await process.OutputCompleted.WaitAsync(Pty.Timeout);
        Assert.Contains("line 2000\r\n", output.Text, StringComparison.Ordinal);
        Assert.Equal(0, await process.Exited.WaitAsync(Pty.Timeout));
    }
}

[CollectionDefinition(nameof(FdCountCollection), DisableParallelization = true)]
public sealed class FdCountCollection;

[Collection(nameof(FdCountCollection))]
public sealed class PtyFdLeakTests
{
    [Fact]
    public async Task HundredSequentialSpawns_LeakNoFileDescriptors()
    {
        for (var i = 0; i < 3; i++)
        {
            await RunOnceAsync(i);
        }

        var before = ProcFs.OpenFileDescriptors();
        for (var i = 0; i < 100; i++)
        {
            await RunOnceAsync(i);
        }

        var after = ProcFs.OpenFileDescriptors();
        Assert.True(after <= before + 2, $"fds before {before}, after {after}");
    }

    private static async Task RunOnceAsync(int i)
    {
        var (process, output) = Pty.Start(Pty.Bash($"echo run-{i}"));
        await using (process)
        {
            Assert.Equal(0, await process.Exited.WaitAsync(Pty.Timeout));
            await process.OutputCompleted.WaitAsync(Pty.Timeout);
            Assert.Contains($"run-{i}", output.Text, StringComparison.Ordinal);
        }
    }
}
