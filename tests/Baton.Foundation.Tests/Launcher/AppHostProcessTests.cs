using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Baton.AppHost.Orchestration;
using Baton.Testing;

namespace Baton.Foundation.Tests.Launcher;

/// <summary>The AppHost as a user runs it (<c>dotnet run --project Aspire.AppHost</c>): a real process, stopped with a signal or killed.</summary>
[Collection(AppHostProcessCollection.Name)]
public sealed class AppHostProcessTests
{
    private static readonly string AppHost = typeof(Baton.AppHost.CommandLine).Assembly.Location;

    [Fact]
    public async Task SigTerm_StopsEveryProcess_WithoutCrashReportsOrStackTraces_AndFreesThePorts()
    {
        await using var run = await AppHostRun.StartAsync();
        var family = ProcessTree.AppHostFamily(run.Process.Id);
        // DCP's API server and controllers, the dashboard, the event bus, four services and the gateway.
        Assert.True(family.Count >= 9, $"DCP, the dashboard, the event bus and five Baton processes run: {family.Count}\n{run.Output}");
        Assert.Contains($"http://127.0.0.1:{run.Port}", run.Output);
        Assert.Contains("Aspire dashboard      http://127.0.0.1:", run.Output);
        Assert.Contains("/login?t=$BATON_TOKEN", run.Output);
        Assert.DoesNotContain(run.Token, run.Output);

        ProcessTree.Signal(run.Process.Id, 15);
        await run.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(0, run.Process.ExitCode);
        await Eventually.WaitAsync(() => Task.FromResult(family.All(pid => !ProcessTree.Alive(pid))), TimeSpan.FromSeconds(60),
            "every process of the AppHost is gone");
        Assert.True(Ports.IsFree(run.Port) && Ports.IsFree(run.GrpcPort), "the gateway ports are free again");
        Assert.Contains("Stopping Baton: gateway, then services, then the event bus", run.Output);
        Assert.DoesNotContain("CRASHED", run.Output);
        Assert.DoesNotContain("Unhandled exception", run.Output);
        Assert.DoesNotContain("   at ", run.Output);
    }

    [Fact]
    public async Task KilledAppHost_LeavesNoOrphan()
    {
        await using var run = await AppHostRun.StartAsync();
        var family = ProcessTree.AppHostFamily(run.Process.Id);
        Assert.True(family.Count >= 9, $"{family.Count} processes\n{run.Output}");

        run.Process.Kill();
        // DCP watches the AppHost's pid and the services watch BATON_PARENT_PID.
        await Eventually.WaitAsync(() => Task.FromResult(family.All(pid => !ProcessTree.Alive(pid))), TimeSpan.FromSeconds(60),
            "every process of the killed AppHost is gone");
        await Eventually.WaitAsync(() => Task.FromResult(Ports.IsFree(run.Port) && Ports.IsFree(run.GrpcPort)), TimeSpan.FromSeconds(10), "ports freed");
    }

    [Fact]
    public async Task PortInUse_FailsWithAClearMessage_BeforeStartingAnything()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var output = new StringWriter();
        using var process = AppHostRun.Launch(["--port", $"{port}", "--grpc-port", $"{Ports.Free()}", "--data-dir", Path.GetTempPath()], output, token: null);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, process.ExitCode);
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", output.ToString());
    }

    [Fact]
    public async Task Help_ListsEveryOption()
    {
        var output = new StringWriter();
        using var process = AppHostRun.Launch(["--help"], output, token: null);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, process.ExitCode);
        foreach (var option in new[] { "--port", "--grpc-port", "--host", "--token", "--data-dir", "--workdir", "--tls-cert", "--tls-key", "--redis" })
        {
            Assert.Contains(option, output.ToString());
        }
    }

    private sealed class AppHostRun : IAsyncDisposable
    {
        private readonly StringWriter _output;

        private AppHostRun(Process process, StringWriter output, int port, int grpcPort, string dataDir, string token)
        {
            Process = process;
            _output = output;
            Port = port;
            GrpcPort = grpcPort;
            DataDir = dataDir;
            Token = token;
        }

        public Process Process { get; }
        public int Port { get; }
        public int GrpcPort { get; }
        public string DataDir { get; }
        public string Token { get; }
        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<AppHostRun> StartAsync()
        {
            var port = Ports.Free();
            var grpcPort = Ports.Free();
            var dataDir = Directory.CreateTempSubdirectory("baton-apphost-").FullName;
            var token = "t0ken-" + Guid.NewGuid().ToString("N");
            var output = new StringWriter();
            var process = Launch(["--port", $"{port}", "--grpc-port", $"{grpcPort}", "--data-dir", dataDir], output, token);
            var run = new AppHostRun(process, output, port, grpcPort, dataDir, token);
            await Eventually.WaitAsync(() => Task.FromResult(run.Output.Contains("Baton is ready", StringComparison.Ordinal) || process.HasExited),
                TimeSpan.FromMinutes(3), "the AppHost reports ready");
            Assert.False(process.HasExited, run.Output);
            // The banner follows the gateway's /ready health check; one probe of a loaded machine may still time out.
            using var client = new HttpClient();
            var ready = "";
            await Eventually.WaitAsync(async () =>
            {
                using var response = await client.GetAsync($"http://127.0.0.1:{port}/ready");
                ready = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                return response.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(30), () => $"/ready answers 200, last: {ready}\n{run.Output}");
            return run;
        }

        public static Process Launch(string[] args, StringWriter output, string? token)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(AppHost);
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }
            start.Environment.Remove("GESTALT_TOKEN");
            start.Environment.Remove("ConnectionStrings__redis");
            start.Environment.Remove("ASPNETCORE_URLS");
            if (token is null)
            {
                start.Environment.Remove("BATON_TOKEN");
            }
            else
            {
                start.Environment["BATON_TOKEN"] = token;
            }
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, e) => { lock (output) { output.WriteLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (output) { output.WriteLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return process;
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                ProcessTree.Signal(Process.Id, 15);
                await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
            Process.Dispose();
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

internal static class ProcessTree
{
    /// <summary>
    /// The AppHost, DCP (which detaches from it but names it with <c>--monitor &lt;pid&gt;</c>) and
    /// every descendant of either: the dashboard, the event bus and the Baton processes.
    /// </summary>
    public static List<int> AppHostFamily(int appHost)
    {
        var parents = new Dictionary<int, int>();
        var roots = new HashSet<int> { appHost };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                var arguments = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                var monitor = Array.IndexOf(arguments, "--monitor");
                if (monitor >= 0 && monitor + 1 < arguments.Length && arguments[monitor + 1] == appHost.ToString(CultureInfo.InvariantCulture))
                {
                    roots.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }
        var family = new HashSet<int>(roots);
        var frontier = new Queue<int>(roots);
        while (frontier.TryDequeue(out var current))
        {
            foreach (var (pid, parent) in parents)
            {
                if (parent == current && family.Add(pid))
                {
                    frontier.Enqueue(pid);
                }
            }
        }
        return [.. family];
    }

    public static bool Alive(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    public static extern int Signal(int pid, int signal);
}
