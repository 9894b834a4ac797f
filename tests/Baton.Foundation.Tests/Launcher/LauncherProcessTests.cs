using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.AppHost.Orchestration;
using Baton.Testing;

namespace Baton.Foundation.Tests.Launcher;

/// <summary>The launcher as a user runs it: a real process, stopped with a signal.</summary>
[Trait("Category", "Redis")]
public sealed class LauncherProcessTests
{
    private static readonly string Launcher = typeof(Orchestrator).Assembly.Location;

    [Fact]
    public async Task SigTerm_StopsEveryChild_AndFreesThePorts()
    {
        var port = Ports.Free();
        var grpcPort = Ports.Free();
        var dataDir = Directory.CreateTempSubdirectory("baton-launch-").FullName;
        var output = new StringWriter();
        using var launcher = Start(["--port", $"{port}", "--grpc-port", $"{grpcPort}", "--data-dir", dataDir, "--token", "t0ken"], output);
        try
        {
            await Eventually.WaitAsync(() => Task.FromResult(output.ToString().Contains("Baton is ready", StringComparison.Ordinal) || launcher.HasExited),
                TimeSpan.FromSeconds(60), "the launcher reports ready");
            Assert.False(launcher.HasExited, output.ToString());
            var children = Descendants(launcher.Id);
            Assert.True(children.Count >= 6, $"redis, four services and the gateway run as children: {children.Count}");

            using var client = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"http://127.0.0.1:{port}/ready")).StatusCode);

            Signal(launcher.Id, 15);
            await launcher.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, launcher.ExitCode);
            Assert.All(children, pid => Assert.False(Alive(pid), $"child {pid} outlived the launcher"));
            Assert.True(Ports.IsFree(port) && Ports.IsFree(grpcPort), "the gateway ports are free again");
            Assert.DoesNotContain("crashed", output.ToString());
        }
        finally
        {
            if (!launcher.HasExited)
            {
                launcher.Kill(entireProcessTree: true);
            }
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task PortInUse_FailsWithAClearMessage()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var output = new StringWriter();
        using var launcher = Start(["--port", $"{port}", "--grpc-port", $"{Ports.Free()}", "--data-dir", TestEnvironment.NewDirectory("baton-launch")], output);
        await launcher.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, launcher.ExitCode);
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", output.ToString());
    }

    private static Process Start(string[] args, StringWriter output)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Launcher);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment.Remove("BATON_TOKEN");
        start.Environment.Remove("ConnectionStrings__redis");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (output) { output.WriteLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.WriteLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static List<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    parents[pid] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
        }
        var result = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var current))
        {
            foreach (var (pid, parent) in parents)
            {
                if (parent == current)
                {
                    result.Add(pid);
                    frontier.Enqueue(pid);
                }
            }
        }
        return result;
    }

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Signal(int pid, int signal);
}
