using System.Collections.Concurrent;

namespace Baton.Git.Storage;

/// <summary>
/// One async lock per repository (keyed by its canonical path): operations on one repository are
/// serialised (no concurrent libgit2 writes, no index.lock races); different repositories run in parallel.
/// </summary>
public sealed class RepoLocks
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public async Task<IDisposable> AcquireAsync(string repoPath, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(repoPath, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Releaser(gate);
    }

    public async Task<T> RunAsync<T>(string repoPath, Func<T> work, CancellationToken cancellationToken)
    {
        using (await AcquireAsync(repoPath, cancellationToken))
        {
            return await Task.Run(work, cancellationToken);
        }
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
