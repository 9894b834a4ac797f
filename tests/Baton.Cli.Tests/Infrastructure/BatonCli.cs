using System.Diagnostics;
using System.Reflection;
using Baton.Testing;

namespace Baton.Cli.Tests.Infrastructure;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the built <c>baton</c> as a separate process, the way a shell does, with its own config folder.</summary>
public sealed class BatonCli : IDisposable
{
    public static string DllPath { get; } = typeof(BatonCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "BatonCliPath").Value!;

    public BatonCli(BatonSystem? system = null)
    {
        ConfigHome = TestEnvironment.NewDirectory("baton-cli-config");
        if (system is not null)
        {
            Environment["BATON_URL"] = system.GatewayUrl.ToString();
            Environment["BATON_GRPC_URL"] = system.GrpcUrl.ToString();
            Environment["BATON_TOKEN"] = system.Token;
        }
    }

    /// <summary>XDG_CONFIG_HOME for the CLI: credentials land here, never in the real home.</summary>
    public string ConfigHome { get; }

    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal)
    {
        ["BATON_URL"] = null,
        ["BATON_GRPC_URL"] = null,
        ["BATON_TOKEN"] = null,
        ["BATON_DEBUG"] = null,
    };

    /// <summary>The shell command line that runs the CLI (for tmux).</summary>
    public static string CommandLine => $"dotnet {DllPath}";

    public async Task<CliResult> RunAsync(params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"baton {string.Join(' ', arguments)} did not finish: {await stdout} {await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the CLI and returns while it runs (a login waiting for the browser, a connect waiting for OAuth).</summary>
    public RunningCli Start(params string[] arguments) => new(Process.Start(StartInfo(arguments))!, arguments);

    private ProcessStartInfo StartInfo(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["XDG_CONFIG_HOME"] = ConfigHome;
        foreach (var (key, value) in Environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }
        return start;
    }

    public async Task<CliResult> RunOkAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.ExitCode == 0, $"baton {string.Join(' ', arguments)}: {result}");
        return result;
    }

    public void Dispose()
    {
        TestEnvironment.DeleteQuietly(ConfigHome);
    }
}

/// <summary>A CLI process still running: its output so far, and its result once it exits (killed on dispose if it has not).</summary>
public sealed class RunningCli : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string[] _arguments;
    private readonly Task<string> _stdout;
    private readonly System.Text.StringBuilder _stderr = new();
    private readonly Task _stderrDone;

    internal RunningCli(Process process, string[] arguments)
    {
        _process = process;
        _arguments = arguments;
        process.StandardInput.Close();
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderrDone = Task.Run(async () =>
        {
            var buffer = new char[1024];
            int read;
            while ((read = await process.StandardError.ReadAsync(buffer)) > 0)
            {
                lock (_stderr)
                {
                    _stderr.Append(buffer, 0, read);
                }
            }
        });
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public async Task<CliResult> WaitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"baton {string.Join(' ', _arguments)} did not finish: {Stderr}");
        }
        await _stderrDone;
        return new CliResult(_process.ExitCode, await _stdout, Stderr);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
