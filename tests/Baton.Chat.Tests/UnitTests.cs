using Baton.Chat.Agent;
using Baton.Chat.Sandbox;
using Baton.Chat.Storage;
using Baton.Chat.Tools;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Chat.Tests;

public sealed class ClientMessageTests
{
    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"type\":\"user_message\",\"content\":\"a\",\"content\":\"b\"}")]
    [InlineData("{\"type\":\"nope\"}")]
    [InlineData("{\"type\":\"user_message\",\"content\":\"\"}")]
    [InlineData("{\"type\":\"user_message\",\"content\":\"\\ud800\"}")]
    [InlineData("{\"type\":\"user_message\",\"content\":\"hi\",\"stream\":\"yes\"}")]
    [InlineData("{\"type\":\"tool_approval\",\"verdicts\":{\"x\":\"maybe\"}}")]
    [InlineData("{\"type\":\"tool_approval\"}")]
    public void Malformed_IsInvalid(string json) => Assert.IsType<ClientMessage.Invalid>(ClientMessage.Parse(json));

    [Fact]
    public void ReferenceShapes_AndClothoAliases_Parse()
    {
        Assert.Equal(new ClientMessage.UserMessage("hi", true), ClientMessage.Parse("{\"type\":\"user_message\",\"content\":\"hi\",\"stream\":true}"));
        Assert.Equal(new ClientMessage.UserMessage("hi", false), ClientMessage.Parse("{\"type\":\"run\",\"data\":{\"message\":\"hi\",\"stream\":false}}"));
        var blocks = Assert.IsType<ClientMessage.UserMessage>(ClientMessage.Parse("{\"type\":\"run\",\"data\":{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}"));
        Assert.Equal("a\nb", blocks.Content);
        var verdicts = Assert.IsType<ClientMessage.ToolApproval>(ClientMessage.Parse("{\"type\":\"tool_approval\",\"verdicts\":{\"t1\":\"allow\",\"t2\":\"deny\"}}"));
        Assert.True(verdicts.Verdicts["t1"]);
        Assert.False(verdicts.Verdicts["t2"]);
        Assert.True(Assert.IsType<ClientMessage.ToolApproval>(ClientMessage.Parse("{\"type\":\"tool_approval\",\"data\":{\"approved\":true}}")).All);
        Assert.IsType<ClientMessage.Cancel>(ClientMessage.Parse("{\"type\":\"cancel\"}"));
    }
}

public sealed class WorkspacePathsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("baton-ws-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void PathsInside_Resolve_AndEscapesAreRefused()
    {
        var workspace = Path.Combine(_root, "ws");
        var outside = Path.Combine(_root, "outside");
        Directory.CreateDirectory(workspace);
        Directory.CreateDirectory(outside);
        File.CreateSymbolicLink(Path.Combine(workspace, "out"), outside);
        File.CreateSymbolicLink(Path.Combine(workspace, "self"), workspace);
        workspace = WorkspacePaths.Canonicalize(workspace);

        Assert.True(WorkspacePaths.TryResolve(workspace, "a/b.txt", out var inside, out _));
        Assert.Equal(Path.Combine(workspace, "a", "b.txt"), inside);
        Assert.True(WorkspacePaths.TryResolve(workspace, Path.Combine(workspace, "c.txt"), out _, out _));
        Assert.True(WorkspacePaths.TryResolve(workspace, "self/d.txt", out var viaSelf, out _));
        Assert.Equal(Path.Combine(workspace, "d.txt"), viaSelf);

        Assert.False(WorkspacePaths.TryResolve(workspace, "../outside/x", out _, out _));
        Assert.False(WorkspacePaths.TryResolve(workspace, "/etc/passwd", out _, out _));
        Assert.False(WorkspacePaths.TryResolve(workspace, "out/x", out _, out var error));
        Assert.Contains("symbolic link", error);
        Assert.False(WorkspacePaths.TryResolve(workspace, "", out _, out _));
        Assert.False(WorkspacePaths.TryResolve(workspace, "a\0b", out _, out _));
    }
}

public sealed class CommandRunnerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("baton-cmd-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private CommandRunner Runner(int timeoutSeconds = 30, int outputLimit = 30_000) => new(new ChatOptions
    {
        DataDir = Path.Combine(_root, "data", "chat"),
        BatonDataDir = Path.Combine(_root, "data"),
        CommandTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        ToolOutputLimit = outputLimit,
        BwrapPath = File.Exists("/usr/bin/bwrap") ? "/usr/bin/bwrap" : null,
    }, NullLogger<CommandRunner>.Instance);

    private string Workspace()
    {
        var path = Path.Combine(_root, "ws-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public async Task LongCommands_TimeOut_AndBackgroundChildrenAreKilled()
    {
        var workspace = Workspace();
        var pidFile = Path.Combine(workspace, "bg.pid");
        var result = await Runner(timeoutSeconds: 2).RunAsync($"sleep 600 & echo $! > {pidFile}; sleep 600", workspace, new SandboxSettings(), CancellationToken.None);
        Assert.True(result.TimedOut);
        Assert.Contains("timed out", result.Output);
        var pid = int.Parse(File.ReadAllText(pidFile).Trim());
        await Baton.Testing.Eventually.WaitAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), TimeSpan.FromSeconds(10), "the background child to be gone");
    }

    [Fact]
    public async Task Output_IsCapped_AndTheEnvironmentHasNoBatonSecrets()
    {
        var workspace = Workspace();
        var big = await Runner(outputLimit: 1000).RunAsync("head -c 100000 /dev/zero | tr '\\0' 'a'", workspace, new SandboxSettings(), CancellationToken.None);
        Assert.True(big.Truncated);
        Assert.True(big.Output.Length < 1200);
        var env = await Runner().RunAsync("env", workspace, new SandboxSettings(), CancellationToken.None);
        Assert.DoesNotContain("BATON_", env.Output);
        Assert.Contains($"HOME={workspace}", env.Output);
    }

    [Fact]
    public async Task Sandbox_ReadOnlyWorkspaceMode_AndMemoryLimit()
    {
        var workspace = Workspace();
        var ro = await Runner().RunAsync("echo x > file.txt", workspace, new SandboxSettings(Enabled: true, WorkspaceMode: "ro"), CancellationToken.None);
        Assert.NotEqual(0, ro.ExitCode);
        Assert.Contains("Read-only file system", ro.Output);
        var memory = await Runner().RunAsync("python3 -c 'x = bytearray(400 * 1024 * 1024); print(\"allocated\")'", workspace,
            new SandboxSettings(Enabled: true, MemoryLimit: "128m"), CancellationToken.None);
        Assert.DoesNotContain("allocated", memory.Output);
        var fine = await Runner().RunAsync("echo ok > f && cat f", workspace, new SandboxSettings(Enabled: true), CancellationToken.None);
        Assert.Equal(0, fine.ExitCode);
        Assert.Contains("ok", fine.Output);
    }

    [Fact]
    public async Task Sandbox_TimesOut_KillsEveryChild_AndSeesOnlyItsOwnProcesses()
    {
        Assert.True(File.Exists("/usr/bin/bwrap"), "bubblewrap is installed on this machine (apt-get install bubblewrap)");
        var workspace = Workspace();
        var sandbox = new SandboxSettings(Enabled: true, TimeoutSeconds: 2);
        // A new PID namespace: the command sees its own few processes, not the host's.
        var ps = await Runner().RunAsync("ls /proc | grep -c '^[0-9]'", workspace, sandbox, CancellationToken.None);
        Assert.Equal(0, ps.ExitCode);
        var visible = int.Parse(ps.Output.Trim().Split('\n')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(visible, 1, 8);
        Assert.True(Directory.EnumerateDirectories("/proc").Count(d => int.TryParse(Path.GetFileName(d), out _)) > visible + 8, "the host has more processes than the sandbox sees");

        // The sandbox's timeout_seconds (2 s, not the service's 30 s) ends the command and every process it started.
        var marker = "baton-sandbox-child-" + Guid.NewGuid().ToString("N")[..8];
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await Runner(timeoutSeconds: 30).RunAsync($"bash -c 'sleep 600; : {marker}' & sleep 600", workspace, sandbox, CancellationToken.None);
        Assert.True(result.TimedOut, result.Output);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(25), $"the sandbox's 2 s timeout applied, not the service's 30 s ({started.Elapsed})");
        await Baton.Testing.Eventually.WaitAsync(() => Task.FromResult(!ProcessesMentioning(marker).Any()), TimeSpan.FromSeconds(15),
            "every process the sandboxed command started to be gone");
    }

    private static IEnumerable<int> ProcessesMentioning(string marker)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            string cmdline;
            try
            {
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (cmdline.Contains(marker, StringComparison.Ordinal))
            {
                yield return pid;
            }
        }
    }

    [Fact]
    public async Task EnablingTheSandbox_WithoutBubblewrap_IsRefusedWithHowToInstallIt()
    {
        var options = new ChatOptions { DataDir = Path.Combine(_root, "nobwrap", "chat"), BatonDataDir = Path.Combine(_root, "nobwrap"), BwrapPath = null };
        Directory.CreateDirectory(options.DataDir);
        var sandbox = new SandboxConfigStore(new ChatStore(options), options);
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => sandbox.UpdateAsync(new Baton.Contracts.Chat.V1.UpdateSandboxRequest { Enabled = true }, CancellationToken.None));
        Assert.Equal(Grpc.Core.StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("bubblewrap", refused.Status.Detail);
        Assert.False((await sandbox.GetAsync(CancellationToken.None)).Enabled);
        // Other settings still change without it.
        Assert.Equal(20, (await sandbox.UpdateAsync(new Baton.Contracts.Chat.V1.UpdateSandboxRequest { TimeoutSeconds = 20 }, CancellationToken.None)).TimeoutSeconds);

        // BATON_BWRAP naming a missing file is bubblewrap missing too.
        var configured = ChatOptions.FromConfiguration(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [ChatOptions.BwrapKey] = Path.Combine(_root, "no-bwrap-here") }).Build(),
            new Baton.ServiceDefaults.Configuration.BatonOptions { ServiceName = "chat", DataDir = options.BatonDataDir, InternalSecret = "unused", ConfigDir = Path.Combine(_root, "config") });
        Assert.Null(configured.BwrapPath);
    }

    [Theory]
    [InlineData("512m", 512L << 20)]
    [InlineData("2g", 2L << 30)]
    [InlineData("64k", 64L << 10)]
    [InlineData("1048576", 1048576L)]
    [InlineData("lots", null)]
    [InlineData("-5m", null)]
    public void MemoryLimits_Parse(string text, long? bytes) => Assert.Equal(bytes, SandboxSettings.ParseMemory(text));
}
