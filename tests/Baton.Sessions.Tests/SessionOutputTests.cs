using System.Text;
using Baton.Runs.Sessions;
using Baton.Sessions.Tests.Infrastructure;

namespace Baton.Sessions.Tests;

public sealed class SessionOutputTests
{
    [Fact]
    public void Log_RotatesPastItsCap_OffsetsStayAbsolute_OldestBytesDropped()
    {
        using var dir = new TempDir("bt-out-");
        using var output = new SessionOutput(dir.Path, maxLogBytes: 4096, ringBytes: 1024);
        var all = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            var line = $"line {i}\n";
            all.Append(line);
            output.Append(Encoding.UTF8.GetBytes(line));
        }
        var bytes = Encoding.UTF8.GetBytes(all.ToString());
        Assert.Equal(bytes.Length, output.End);
        Assert.True(output.Start > 0, "rotation dropped the oldest bytes");
        Assert.True(output.End - output.Start <= 2 * 4096);
        Assert.True(new FileInfo(Path.Combine(dir.Path, SessionOutput.LogName)).Length <= 4096);
        Assert.Equal(bytes.AsSpan((int)output.Start).ToArray(), output.Read(0, output.End));
        Assert.Equal(bytes.AsSpan(bytes.Length - 1024).ToArray(), output.Recent());

        using var viewer = output.Attach(cursor: 0);
        Assert.Equal(output.Start, viewer.SnapshotOffset);
    }

    [Fact]
    public async Task Attach_WithCursor_WhileOutputFlows_HasNoGapAndNoDuplicate()
    {
        using var dir = new TempDir("bt-out-");
        using var output = new SessionOutput(dir.Path, maxLogBytes: 1024 * 1024, ringBytes: 256);
        var producing = Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                output.Append(Encoding.UTF8.GetBytes($"{i}\n"));
            }
            output.Complete();
        });
        var viewers = new List<(SessionViewer Viewer, Task<byte[]> Received)>();
        for (var k = 0; k < 20; k++)
        {
            var viewer = output.Attach(cursor: k * 100, bufferFrames: 100_000);
            viewers.Add((viewer, ReadAllAsync(viewer)));
            await Task.Yield();
        }
        await producing;
        var expected = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i}\n")));
        foreach (var (viewer, received) in viewers)
        {
            var bytes = await received;
            Assert.Equal(expected.AsSpan((int)viewer.SnapshotOffset).ToArray(), bytes);
            viewer.Dispose();
        }
    }

    [Fact]
    public void SlowViewer_IsCutOff_OthersAndTheProducerCarryOn()
    {
        using var dir = new TempDir("bt-out-");
        using var output = new SessionOutput(dir.Path, maxLogBytes: 1024 * 1024, ringBytes: 256);
        using var slow = output.Attach(cursor: null, bufferFrames: 4);
        for (var i = 0; i < 10; i++)
        {
            output.Append("x"u8);
        }
        Assert.Equal(10, output.End);
        Assert.Equal(0, output.ViewerCount);
        var drained = new List<ReadOnlyMemory<byte>>();
        while (slow.Live.TryRead(out var chunk))
        {
            drained.Add(chunk);
        }
        Assert.Equal(4, drained.Count);
        Assert.IsType<SessionViewerOverflowException>(slow.Live.Completion.Exception?.InnerException);
    }

    [Fact]
    public void History_PagesBackwardsOverTheLog_EveryLineOnce()
    {
        using var dir = new TempDir("bt-out-");
        using var output = new SessionOutput(dir.Path, maxLogBytes: 64 * 1024, ringBytes: 1024);
        for (var i = 0; i < 10_000; i++)
        {
            output.Append(Encoding.UTF8.GetBytes($"\u001b[32mrow {i}\u001b[0m\r\n"));
        }
        var lines = new List<string>();
        long? before = null;
        do
        {
            var (page, cursor) = SessionHistory.Page(output, 333, before);
            Assert.True(page.Count <= 333);
            lines.InsertRange(0, page);
            before = cursor;
        }
        while (before is not null);
        // Rotation keeps at most two files' worth: the pages reach the oldest retained whole line.
        var first = int.Parse(lines[0]["row ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Enumerable.Range(first, 10_000 - first).Select(i => $"row {i}"), lines);
        Assert.True(first > 0);
    }

    [Fact]
    public void Text_StripsEscapes_CarriageReturnOverwrites()
    {
        var lines = SessionText.Lines("\u001b]0;title\u0007\u001b[1;31mred\u001b[0m\r\nprogress 10%\rprogress 100%\r\n\u0007done\n"u8);
        Assert.Equal(["red", "progress 100%", "done"], lines);
    }

    private static async Task<byte[]> ReadAllAsync(SessionViewer viewer)
    {
        var buffer = new MemoryStream();
        buffer.Write(viewer.Snapshot.Span);
        await foreach (var chunk in viewer.Live.ReadAllAsync())
        {
            buffer.Write(chunk.Span);
        }
        return buffer.ToArray();
    }
}
