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
        using var process = Process.Start(start)!;
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
