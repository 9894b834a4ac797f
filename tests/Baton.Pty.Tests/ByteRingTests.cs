using Baton.Pty;

namespace Baton.Pty.Tests;

public sealed class ByteRingTests
{
    [Fact]
    public void KeepsTheLastCapacityBytes_AcrossWrapAround()
    {
        var ring = new ByteRing(8);
        var written = new List<byte>();
        byte next = 0;
        foreach (var size in new[] { 3, 4, 5, 1, 7, 2, 6 })
        {
            var chunk = Enumerable.Range(0, size).Select(_ => next++).ToArray();
            ring.Append(chunk);
            written.AddRange(chunk);
            Assert.Equal(written.TakeLast(8), ring.ToArray());
        }
        Assert.Equal(8, ring.Length);
    }

    [Fact]
    public void AChunkLargerThanTheRing_LeavesItsTail()
    {
        var ring = new ByteRing(4);
        ring.Append([1, 2]);
        ring.Append([3, 4, 5, 6, 7, 8, 9]);
        Assert.Equal([6, 7, 8, 9], ring.ToArray());
    }

    [Fact]
    public void Empty_IsEmpty()
    {
        var ring = new ByteRing(16);
        Assert.Empty(ring.ToArray());
        Assert.Equal(16, ring.Capacity);
    }
}
