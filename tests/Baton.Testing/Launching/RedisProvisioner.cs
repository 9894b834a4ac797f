using System.Net.Sockets;
using System.Text;

namespace Baton.AppHost.Orchestration;

/// <summary>Finds or starts the Redis-protocol server Baton's event bus uses.</summary>
public static class RedisProvisioner
{
    public sealed record Provisioned(string ConnectionString, ManagedProcess? Process, string Description);

    public static async Task<Provisioned> ProvisionAsync(LaunchOptions options, Action<string, string> output, CancellationToken cancellationToken)
    {
        var configured = options.RedisConnectionString ?? System.Environment.GetEnvironmentVariable("ConnectionStrings__redis");
        if (options.RedisMode == RedisMode.Auto && !string.IsNullOrWhiteSpace(configured))
        {
            return new Provisioned(configured, null, "external Redis (ConnectionStrings__redis)");
        }

        var port = Ports.Free();
        var useRedisServer = options.RedisMode == RedisMode.RedisServer
            || (options.RedisMode == RedisMode.Auto && OnPath("redis-server") is not null);
        ManagedProcess process;
        string description;
        if (useRedisServer)
        {
            var redis = OnPath("redis-server") ?? throw new LaunchException("redis-server is not on the PATH");
            process = ManagedProcess.Start("redis", redis,
                ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                options.DataDir, new Dictionary<string, string>(), options.UseColor, output);
            description = $"redis-server on 127.0.0.1:{port}";
        }
        else
        {
            await RestoreToolsAsync(cancellationToken);
            process = ManagedProcess.Start("garnet", "dotnet",
                ["tool", "run", "garnet-server", "--", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1"],
                ServiceCatalog.RepositoryRoot, new Dictionary<string, string>(), options.UseColor, output);
            description = $"Garnet on 127.0.0.1:{port}";
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await PingAsync(port, cancellationToken))
        {
            if (process.HasExited)
            {
                throw new LaunchException($"{description} exited with code {process.Exited.Result} before answering PING");
            }
            if (DateTime.UtcNow > deadline)
            {
                await process.StopAsync(TimeSpan.FromSeconds(2));
                throw new LaunchException($"{description} did not answer PING within 30 s");
            }
            await Task.Delay(50, cancellationToken);
        }
        return new Provisioned($"127.0.0.1:{port}", process, description);
    }

    public static async Task<bool> PingAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    internal static async Task RestoreToolsAsync(CancellationToken cancellationToken)
    {
        using var restore = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", "tool restore")
        {
            WorkingDirectory = ServiceCatalog.RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var error = restore.StandardError.ReadToEndAsync(cancellationToken);
        await restore.StandardOutput.ReadToEndAsync(cancellationToken);
        await restore.WaitForExitAsync(cancellationToken);
        if (restore.ExitCode != 0)
        {
            throw new LaunchException($"'dotnet tool restore' failed, so Garnet cannot start: {await error}");
        }
    }

    public static string? OnPath(string program) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
