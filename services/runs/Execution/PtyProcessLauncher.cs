using System.Threading.Channels;
using Baton.Pty;

namespace Baton.Runs.Execution;

/// <summary>
/// Starts the CLI in a real pseudo-terminal (Baton.Pty): its output goes to the run's log file and
/// a ring replayed to terminal viewers; the adapter reads it as one more (never cut-off) viewer.
/// Terminating kills the whole process group.
/// </summary>
public sealed class PtyProcessLauncher(RunsConfiguration configuration) : IAgentProcessLauncher
{
    // The adapter must see every byte: its viewer buffer is practically unbounded (chunks are shared, not copied).
    private const int AdapterBufferFrames = 1_000_000;

    public IAgentProcess Start(AgentProcessOptions options)
    {
        PtySpawnOptions spawn = new(options.FileName, options.Arguments, options.WorkingDirectory, options.Environment,
            (ushort)Math.Clamp(options.Columns, 1, ushort.MaxValue), (ushort)Math.Clamp(options.Rows, 1, ushort.MaxValue));
        TerminalSession session;
        try
        {
            session = TerminalSession.Start(spawn, options.LogFilePath, configuration.TerminalRingBytes, appendToLog: true);
        }
        catch (PtySpawnException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }
        return new PtyAgentProcess(session, session.Attach(AdapterBufferFrames));
    }

    private sealed class PtyAgentProcess(TerminalSession session, TerminalViewer adapterViewer) : IAgentProcess
    {
        public int Pid => session.Process.Pid;
        public ChannelReader<ReadOnlyMemory<byte>> Output { get; } = WithSnapshot(adapterViewer);
        public Task<int> Exited => session.Process.Exited;
        public long BytesWritten => session.BytesWritten;
        public TerminalSession? Terminal => session;

        public ValueTask WriteInputAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
            session.WriteInputAsync(data, cancellationToken);

        public void Resize(int columns, int rows) =>
            session.Resize((ushort)Math.Clamp(columns, 1, ushort.MaxValue), (ushort)Math.Clamp(rows, 1, ushort.MaxValue));

        public Task TerminateAsync(TimeSpan grace) => session.Process.TerminateAsync(grace);

        public async ValueTask DisposeAsync()
        {
            adapterViewer.Dispose();
            await session.DisposeAsync();
        }

        // The adapter attached right after the spawn; whatever the CLI printed before is in the snapshot.
        private static ChannelReader<ReadOnlyMemory<byte>> WithSnapshot(TerminalViewer viewer)
        {
            if (viewer.Snapshot.IsEmpty)
            {
                return viewer.Live;
            }
            var merged = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            merged.Writer.TryWrite(viewer.Snapshot);
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var chunk in viewer.Live.ReadAllAsync())
                    {
                        merged.Writer.TryWrite(chunk);
                    }
                    merged.Writer.TryComplete();
                }
                catch (Exception ex)
                {
                    merged.Writer.TryComplete(ex);
                }
            });
            return merged.Reader;
        }
    }
}
