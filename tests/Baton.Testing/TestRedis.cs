using System.Globalization;
using Baton.AppHost.Orchestration;

namespace Baton.Testing;

/// <summary>A real Redis-protocol server (redis-server, or Garnet with BATON_TEST_REDIS=garnet) that a test can kill and restart on the same port.</summary>
public sealed class TestRedis : IAsyncDisposable
{
    private ManagedProcess? _process;

    private TestRedis(int port) => Port = port;

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<TestRedis> StartAsync()
    {
        var redis = new TestRedis(Ports.Free());
        await redis.RestartAsync();
        return redis;
    }

    public async Task RestartAsync()
    {
        var port = Port.ToString(CultureInfo.InvariantCulture);
        if (BatonSystem.TestRedisMode == RedisMode.Garnet)
        {
            await RedisProvisioner.RestoreToolsAsync(CancellationToken.None);
        }
        _process = BatonSystem.TestRedisMode == RedisMode.Garnet
            ? ManagedProcess.Start("garnet", "dotnet", ["tool", "run", "garnet-server", "--", "--port", port, "--bind", "127.0.0.1"],
                ServiceCatalog.RepositoryRoot, new Dictionary<string, string>(), false, (_, _) => { })
            : ManagedProcess.Start("redis", "redis-server", ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                Path.GetTempPath(), new Dictionary<string, string>(), false, (_, _) => { });
        await Eventually.WaitAsync(() => RedisProvisioner.PingAsync(Port, CancellationToken.None), TimeSpan.FromSeconds(30), "redis answers PING");
    }

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await process.StopAsync(TimeSpan.FromSeconds(5));
            _process = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
