using System.Diagnostics;
using System.Threading.Channels;

namespace Baton.Runs.Execution;

/// <summary>
/// Starts the CLI with pipes (no terminal; the fallback when BATON_AGENT_PTY=0) in a new session through <c>setsid</c>, so its pid is its
/// process group id. The contract is the same as the PTY launcher's.
/// </summary>
public sealed class PipeProcessLauncher : IAgentProcessLauncher
{
    public IAgentProcess Start(AgentProcessOptions options) => PipeAgentProcess.Start(options);

    private sealed class PipeAgentProcess : IAgentProcess
    {
        private readonly Process _process;
        private readonly Channel<ReadOnlyMemory<byte>> _output = Channel.CreateBounded<ReadOnlyMemory<byte>>(
            new BoundedChannelOptions(256) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        private readonly FileStream _log;
        private readonly SemaphoreSlim _logLock = new(1, 1);
        private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _bytesWritten;

        private PipeAgentProcess(Process process, FileStream log)
        {
            _process = process;
            _log = log;
        }

        public int Pid => _process.Id;
        public ChannelReader<ReadOnlyMemory<byte>> Output => _output.Reader;
        public Task<int> Exited => _exited.Task;
        public long BytesWritten => Interlocked.Read(ref _bytesWritten);
        public Baton.Pty.TerminalSession? Terminal => null;

        public static PipeAgentProcess Start(AgentProcessOptions options)
        {
            var start = new ProcessStartInfo("setsid")
            {
                WorkingDirectory = options.WorkingDirectory,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(options.FileName);
            foreach (var argument in options.Arguments)
            {
                start.ArgumentList.Add(argument);
            }
            foreach (var (key, value) in options.Environment)
            {
                start.Environment[key] = value;
            }
            start.Environment["COLUMNS"] = options.Columns.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["LINES"] = options.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Directory.CreateDirectory(Path.GetDirectoryName(options.LogFilePath)!);
            var log = new FileStream(options.LogFilePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            var process = new Process { StartInfo = start };
            if (!process.Start())
            {
                log.Dispose();
                throw new InvalidOperationException($"could not start {options.FileName}");
            }
            var agent = new PipeAgentProcess(process, log);
            agent.Run();
            return agent;
        }

        private void Run()
        {
            var stdout = Task.Run(() => PumpAsync(_process.StandardOutput.BaseStream));
            var stderr = Task.Run(() => PumpAsync(_process.StandardError.BaseStream));
            _ = Task.Run(async () =>
            {
                await _process.WaitForExitAsync();
                // Nothing of the group may outlive its leader (and keep the pipes open).
                ProcessGroup.Signal(_process.Id, ProcessGroup.SigKill);
                try
                {
                    await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                }
                await _logLock.WaitAsync();
                try
                {
                    await _log.FlushAsync();
                }
                finally
                {
                    _logLock.Release();
                }
                _output.Writer.TryComplete();
                _exited.TrySetResult(_process.ExitCode);
            });
        }

        private async Task PumpAsync(Stream stream)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer)) > 0)
                {
                    var chunk = buffer.AsMemory(0, read).ToArray();
                    await _logLock.WaitAsync();
                    try
                    {
                        await _log.WriteAsync(chunk);
                        await _log.FlushAsync();
                        Interlocked.Add(ref _bytesWritten, read);
                        await _output.Writer.WriteAsync(chunk);
                    }
                    finally
                    {
                        _logLock.Release();
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        public async ValueTask WriteInputAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            await _process.StandardInput.BaseStream.WriteAsync(data, cancellationToken);
            await _process.StandardInput.BaseStream.FlushAsync(cancellationToken);
        }

        public void Resize(int columns, int rows)
        {
        }

        public async Task TerminateAsync(TimeSpan grace)
        {
            if (_exited.Task.IsCompleted)
            {
                return;
            }
            ProcessGroup.Signal(_process.Id, ProcessGroup.SigTerm);
            if (await Task.WhenAny(_exited.Task, Task.Delay(grace)) != _exited.Task)
            {
                ProcessGroup.Signal(_process.Id, ProcessGroup.SigKill);
            }
            await _exited.Task;
        }

        public async ValueTask DisposeAsync()
        {
            await TerminateAsync(TimeSpan.FromSeconds(2));
            _process.Dispose();
            await _log.DisposeAsync();
            _logLock.Dispose();
        }
    }
}
