using System.Diagnostics;

namespace Baton.Gateway.Status;

/// <summary>Branch and origin of the working directory's repository, read with the git CLI and cached briefly.</summary>
public sealed class WorkdirGitInfo(GatewayOptions options, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private (string Branch, string Origin) _cached;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public async Task<(string Branch, string Origin)> ReadAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (time.GetUtcNow() - _readAt > CacheFor)
            {
                _cached = (await GitAsync("rev-parse --abbrev-ref HEAD", cancellationToken), await GitAsync("config --get remote.origin.url", cancellationToken));
                _readAt = time.GetUtcNow();
            }
            return _cached;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<string> GitAsync(string arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("git", $"-C \"{options.WorkDir}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var process = Process.Start(start)!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode == 0 ? output.Trim() : "";
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or OperationCanceledException)
        {
            return "";
        }
    }
}
