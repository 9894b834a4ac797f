using System.Text;
using System.Threading.Channels;
using Baton.Pty;

namespace Baton.Pty.Tests;

public sealed class TerminalSessionTests : IDisposable
{
    private readonly string _dir = TestEnvironment.NewDirectory("baton-pty");

    public void Dispose() => TestEnvironment.DeleteQuietly(_dir);

    private string LogPath => Path.Combine(_dir, "logs", "run.log");

    /// <summary>Snapshot + everything on Live until it completes.</summary>
    private static async Task<byte[]> ReadAllAsync(TerminalViewer viewer)
    {
        var all = new MemoryStream();
        all.Write(viewer.Snapshot.Span);
        await foreach (var chunk in viewer.Live.ReadAllAsync().WithCancellation(new CancellationTokenSource(Pty.Timeout).Token))
        {
            all.Write(chunk.Span);
        }

        return all.ToArray();
    }

    /// <summary>Reads Live into <paramref name="output"/> until it completes (or faults).</summary>
    private static async Task PumpAsync(TerminalViewer viewer, OutputCollector output)
    {
        output.Append(viewer.Snapshot);
        await foreach (var chunk in viewer.Live.ReadAllAsync())
        {
            output.Append(chunk);
        }
    }

    [Fact]
    public async Task TwoViewers_ReceiveIdenticalOutput_EqualToLogFile()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("read go; for i in $(seq 1 3000); do echo \"line $i of the shared terminal\"; done"), LogPath);
        using var first = session.Attach(bufferFrames: 100_000);
        using var second = session.Attach(bufferFrames: 100_000);
        Assert.Equal(2, session.ViewerCount);
        var firstAll = ReadAllAsync(first);
        var secondAll = ReadAllAsync(second);

        await session.WriteInputAsync("go\n"u8.ToArray());
        await session.Completion.WaitAsync(Pty.Timeout);

        var a = await firstAll;
        var b = await secondAll;
        Assert.Equal(a, b);
        Assert.Contains("line 3000 of the shared terminal", Encoding.UTF8.GetString(a), StringComparison.Ordinal);
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.Equal(log, a);
        Assert.Equal(log.LongLength, session.BytesWritten);
    }

    [Fact]
    public async Task LateViewer_GetsRingSnapshot_ThenLiveOutput()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("echo EARLY-OUTPUT; read line; echo \"LATE:$line\"; read"), LogPath);
        using var early = session.Attach();
        var earlyOutput = new OutputCollector();
        var pump = PumpAsync(early, earlyOutput);
        await earlyOutput.WaitForTextAsync("EARLY-OUTPUT\r\n");

        using var late = session.Attach();
        Assert.Equal(earlyOutput.Bytes, late.Snapshot.ToArray());
        Assert.Equal(0, late.SnapshotOffset);
        Assert.Equal(session.BytesWritten, late.LiveOffset);

        var lateOutput = new OutputCollector();
        var latePump = PumpAsync(late, lateOutput);
        await session.WriteInputAsync("typed\n"u8.ToArray());
        await lateOutput.WaitForTextAsync("LATE:typed");
        await earlyOutput.WaitForTextAsync("LATE:typed");

        await session.WriteInputAsync("\n"u8.ToArray());
        await session.Completion.WaitAsync(Pty.Timeout);
        await Task.WhenAll(pump, latePump).WaitAsync(Pty.Timeout);
        Assert.Equal(earlyOutput.Bytes, lateOutput.Bytes);
    }

    [Fact]
    public async Task Ring_IsBounded_SnapshotIsTheLastBytesOfTheLog()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("for i in $(seq 1 2000); do echo \"row $i\"; done"), LogPath, ringCapacityBytes: 1000);
        await session.Completion.WaitAsync(Pty.Timeout);

        using var viewer = session.Attach();
        var log = await File.ReadAllBytesAsync(LogPath);
        Assert.True(log.Length > 10_000);
        Assert.Equal(1000, viewer.Snapshot.Length);
        Assert.Equal(log[^1000..], viewer.Snapshot.ToArray());
        Assert.Equal(log.Length - 1000, viewer.SnapshotOffset);
        Assert.True(viewer.Live.Completion.IsCompleted, "a viewer of a finished session gets a completed Live");
        Assert.Equal(1, session.ViewerCount);
    }

    [Fact]
    public async Task LogFile_EqualsTotalOutput_AndOpenLogReplaysFromAnOffset()
    {
        await using var session = TerminalSession.Start(Pty.Bash("printf 'abcdefghij\\n'; seq 1 500"), LogPath);
        using var viewer = session.Attach(bufferFrames: 100_000);
        var all = await ReadAllAsync(viewer);
        await session.Completion.WaitAsync(Pty.Timeout);

        Assert.Equal(all.LongLength, session.BytesWritten);
        Assert.Equal(all, await File.ReadAllBytesAsync(LogPath));
        using var fromFive = session.OpenLog(5);
        var replay = new MemoryStream();
        await fromFive.CopyToAsync(replay);
        Assert.Equal(all[5..], replay.ToArray());
        Assert.StartsWith("fghij", Encoding.UTF8.GetString(replay.ToArray()), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.OpenLog(session.BytesWritten + 1));
    }

    [Fact]
    public async Task AttachFrom_Offset_ReplaysLogThenLive_WithoutGapOrDuplicate()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("echo FIRST-PART; read; echo SECOND-PART"), LogPath, ringCapacityBytes: 4);
        using var watcher = session.AttachFrom(0); // the ring is tiny: only the log has everything
        var watched = new OutputCollector();
        var pump = PumpAsync(watcher, watched);
        await watched.WaitForTextAsync("FIRST-PART\r\n");

        using var resumed = session.AttachFrom(3, bufferFrames: 100);
        Assert.Equal(3, resumed.SnapshotOffset);
        Assert.Equal(watched.Bytes[3..], resumed.Snapshot.ToArray());
        var resumedAll = ReadAllAsync(resumed);

        await session.WriteInputAsync("\n"u8.ToArray());
        await session.Completion.WaitAsync(Pty.Timeout);
        await pump.WaitAsync(Pty.Timeout);
        Assert.Equal(watched.Bytes[3..], await resumedAll);
        Assert.Contains("SECOND-PART", watched.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowViewer_IsCutOff_WithoutBlockingThePtyOrOtherViewers()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("read go; for i in $(seq 1 3000); do echo \"flood $i\"; done"), LogPath);
        using var slow = session.Attach(bufferFrames: 2);
        using var fast = session.Attach(bufferFrames: 100_000);
        var lastViewerLeft = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.LastViewerDetached += _ => lastViewerLeft.TrySetResult();
        var fastAll = ReadAllAsync(fast);

        await session.WriteInputAsync("go\n"u8.ToArray());
        await session.Completion.WaitAsync(Pty.Timeout);

        Assert.Contains("flood 3000", Encoding.UTF8.GetString(await fastAll), StringComparison.Ordinal);
        // The cut-off viewer can still read what was queued, then Live ends with the overflow error.
        await Assert.ThrowsAsync<TerminalViewerOverflowException>(() => ReadAllAsync(slow));
        await Assert.ThrowsAsync<TerminalViewerOverflowException>(() => slow.Live.Completion);
        Assert.Equal(1, session.ViewerCount); // the fast one stays attached until disposed
        Assert.False(lastViewerLeft.Task.IsCompleted, "the fast viewer is still attached");
        fast.Dispose();
        await lastViewerLeft.Task.WaitAsync(Pty.Timeout);
        Assert.Equal(0, session.ViewerCount);
    }

    [Fact]
    public async Task LastViewerDetached_IsRaised_WhenTheLastViewerDisposes()
    {
        await using var session = TerminalSession.Start(Pty.Bash("read"), LogPath);
        var lastViewerLeft = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.LastViewerDetached += _ => lastViewerLeft.TrySetResult();
        var a = session.Attach();
        var b = session.Attach();

        a.Dispose();
        Assert.False(lastViewerLeft.Task.IsCompleted);
        Assert.Equal(1, session.ViewerCount);
        b.Dispose();

        await lastViewerLeft.Task.WaitAsync(Pty.Timeout);
        Assert.Equal(0, session.ViewerCount);
        Assert.True(a.Live.Completion.IsCompleted);
    }

    [Fact]
    public async Task Resize_ThroughSession_ReachesChild()
    {
        await using var session = TerminalSession.Start(
            Pty.Bash("trap 'echo \"NOW $(stty size)\"' WINCH; echo READY; while :; do sleep 5 & wait $!; done"), LogPath);
        using var viewer = session.Attach();
        var output = new OutputCollector();
        _ = PumpAsync(viewer, output);
        await output.WaitForTextAsync("READY");

        Assert.True(TerminalSession.TryParseInBandResize("\u001b[RESIZE:90:20"u8, out var cols, out var rows));
        session.Resize(cols, rows);

        await output.WaitForTextAsync("NOW 20 90");
    }

    [Fact]
    public async Task Dispose_KillsTheProcessGroup_AndCompletesViewers()
    {
        var session = TerminalSession.Start(Pty.Bash("trap '' TERM HUP; sleep 100 & echo READY; wait"), LogPath);
        using var viewer = session.Attach();
        var output = new OutputCollector();
        var pump = PumpAsync(viewer, output);
        await output.WaitForTextAsync("READY");
        var pid = session.Process.Pid;

        await session.DisposeAsync().AsTask().WaitAsync(Pty.Timeout);

        Assert.True(session.Completion.IsCompleted);
        await pump.WaitAsync(Pty.Timeout);
        await Pty.WaitUntilAsync(() => ProcFs.LiveGroupMembers(pid).Count == 0, "the process group is gone");
    }

    [Fact]
    public async Task ConcurrentSessions_EachLogHoldsItsWholeOutput()
    {
        var sessions = Enumerable.Range(0, 8).Select(i => TerminalSession.Start(
            Pty.Bash($"stty -onlcr; head -c 262144 /dev/zero | tr '\\0' '{(char)('a' + i)}'"),
            Path.Combine(_dir, $"run-{i}.log"))).ToList();
        try
        {
            var codes = await Task.WhenAll(sessions.Select(session => session.Process.Exited)).WaitAsync(Pty.Timeout);
            await Task.WhenAll(sessions.Select(session => session.Completion)).WaitAsync(Pty.Timeout);

            Assert.All(codes, code => Assert.Equal(0, code));
            for (var i = 0; i < sessions.Count; i++)
            {
                var log = await File.ReadAllBytesAsync(sessions[i].LogFilePath);
                Assert.Equal(262_144, log.Length);
                Assert.Equal(log.Length, sessions[i].BytesWritten);
                Assert.All(log, b => Assert.Equal((byte)('a' + i), b));
            }
        }
        finally
        {
            foreach (var session in sessions)
            {
                await session.DisposeAsync();
            }
        }
    }

    [Fact]
    public void Start_MissingExecutable_ThrowsClearError()
    {
        var error = Assert.Throws<PtySpawnException>(() => TerminalSession.Start(
            new PtySpawnOptions("baton-no-such-cli", [], _dir, new Dictionary<string, string>()), LogPath));
        Assert.Contains("baton-no-such-cli", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u001b[RESIZE:120:30", true, 120, 30)]
    [InlineData("\u001b[RESIZE:1:1", true, 1, 1)]
    [InlineData("\u001b[RESIZE:65535:65535", true, 65535, 65535)]
    [InlineData("\u001b[RESIZE:65536:30", false, 0, 0)]
    [InlineData("\u001b[RESIZE:0:30", false, 0, 0)]
    [InlineData("\u001b[RESIZE:120:", false, 0, 0)]
    [InlineData("\u001b[RESIZE::30", false, 0, 0)]
    [InlineData("\u001b[RESIZE:120", false, 0, 0)]
    [InlineData("\u001b[RESIZE:12a:30", false, 0, 0)]
    [InlineData("\u001b[RESIZE:120:30x", false, 0, 0)]
    [InlineData("\u001b[RESIZE:120:30:1", false, 0, 0)]
    [InlineData("\u001b[RESIZE:-1:30", false, 0, 0)]
    [InlineData("[RESIZE:120:30", false, 0, 0)]
    [InlineData("ls -la\r", false, 0, 0)]
    [InlineData("", false, 0, 0)]
    public void TryParseInBandResize_ParsesOnlyTheExactForm(string input, bool ok, int expectedCols, int expectedRows)
    {
        Assert.Equal(ok, TerminalSession.TryParseInBandResize(Encoding.UTF8.GetBytes(input), out var cols, out var rows));
        Assert.Equal(expectedCols, cols);
        Assert.Equal(expectedRows, rows);
    }
}
