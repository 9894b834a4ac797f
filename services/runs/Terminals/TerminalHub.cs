namespace Baton.Runs.Terminals;

/// <summary>Terminal viewers of runs and ephemeral terminals (WS /api/terminal through the gateway).</summary>
public sealed class TerminalHub
{
    private int _viewers;
    private int _ephemeral;

    public int ViewerCount => Volatile.Read(ref _viewers);

    public int EphemeralCount => Volatile.Read(ref _ephemeral);

    public void ViewerAttached() => Interlocked.Increment(ref _viewers);

    public void ViewerDetached() => Interlocked.Decrement(ref _viewers);

    public void EphemeralStarted() => Interlocked.Increment(ref _ephemeral);

    public void EphemeralEnded() => Interlocked.Decrement(ref _ephemeral);
}
