using System.Net;
using System.Net.Sockets;
using Baton.Cli.Infrastructure;
using Baton.Cli.Tests.Infrastructure;
using Baton.Testing;
using Grpc.Core;

namespace Baton.Cli.Tests;

/// <summary>What the CLI does without a running Baton: one-line errors, usage, completions, credentials.</summary>
public sealed class OfflineTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("runs", "ls")]
    [InlineData("status")]
    [InlineData("attach", "0b0e6a4e-0000-4000-8000-000000000000")]
    [InlineData("logs")]
    [InlineData("sessions", "ls")]
    [InlineData("attach", "Coder 1")]
    [InlineData("send", "Coder 1", "hello")]
    [InlineData("notify", "--session-id", "Coder 1", "{\"type\":\"agent-turn-complete\"}")]
    [InlineData("tokens", "ls")]
    [InlineData("integrations", "ls")]
    [InlineData("flows", "export")]
    [InlineData("chat", "ls")]
    [InlineData("login")]
    public async Task StoppedGateway_GivesOneLineError_NoStackTrace_Exit1(params string[] command)
    {
        using var cli = new BatonCli();
        cli.Environment["BATON_URL"] = $"http://127.0.0.1:{FreePort()}";
        var result = await cli.RunAsync(command);
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: cannot reach Baton", line, StringComparison.Ordinal);
        Assert.Contains("connection refused", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task UsageErrors_Exit2_WithOneLineAndWhereToLook()
    {
        using var cli = new BatonCli();
        var unknown = await cli.RunAsync("runs", "frobnicate");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal("error: Unrecognized command or argument 'frobnicate'; see 'baton runs --help'", unknown.Stderr.Trim());
        Assert.Equal(2, (await cli.RunAsync("agents", "create", "--name", "x")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("status", "--url", "ftp://nowhere")).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("--help")).ExitCode);
    }

    [Fact]
    public async Task Completions_ComeFromTheParser()
    {
        using var cli = new BatonCli();
        var script = await cli.RunOkAsync("completions", "bash");
        Assert.Contains("complete -o default -F _baton_complete baton", script.Stdout, StringComparison.Ordinal);
        Assert.Contains("compdef", (await cli.RunOkAsync("completions", "zsh")).Stdout, StringComparison.Ordinal);
        // What the script asks: the parser's own suggestions at the cursor.
        var suggestions = (await cli.RunOkAsync("[suggest:11]", "baton runs ")).Stdout.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains("attach", suggestions);
        Assert.Contains("events", suggestions);
        Assert.Contains("runs", (await cli.RunOkAsync("[suggest:7]", "baton r")).Stdout.Split('\n', StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void Credentials_AreWrittenOwnerOnly_AndReadBack()
    {
        var folder = TestEnvironment.NewDirectory("baton-cred");
        try
        {
            var store = new CredentialStore(Path.Combine(folder, "baton", "credentials.json"));
            Assert.Null(store.Load());
            store.Save(new SavedCredentials("http://h:1", "http://h:2", "secret"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(store.Path)!));
            Assert.Equal("secret", store.Load()!.Token);
            // Overwriting an existing file keeps it private.
            File.SetUnixFileMode(store.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            store.Save(new SavedCredentials("http://h:1", null, "other"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
            Assert.True(store.Delete());
            Assert.Null(store.Load());
        }
        finally
        {
            TestEnvironment.DeleteQuietly(folder);
        }
    }

    [Fact]
    public void GrpcPort_IsDerivedFromTheUrl()
    {
        Assert.Equal(new Uri("http://127.0.0.1:8081/"), Connection.DeriveGrpcUrl(new Uri("http://127.0.0.1:8080")));
        Assert.Equal(new Uri("https://baton.example:443/"), Connection.DeriveGrpcUrl(new Uri("https://baton.example")));
    }

    [Fact]
    public void Lookup_MatchesIdNameOrUniquePrefix()
    {
        var items = new[] { ("1a2b3c4d-1", "alpha"), ("1a2b9999-2", "beta"), ("ffff0000-3", "beta") };
        Assert.Equal("alpha", Lookup.Pick(items, "1a2b3c4d-1", i => i.Item1, i => i.Item2, "agent", "ls").Item2);
        Assert.Equal("1a2b3c4d-1", Lookup.Pick(items, "alpha", i => i.Item1, i => i.Item2, "agent", "ls").Item1);
        Assert.Equal("ffff0000-3", Lookup.Pick(items, "ffff", i => i.Item1, i => i.Item2, "agent", "ls").Item1);
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => Lookup.Pick(items, "beta", i => i.Item1, i => i.Item2, "agent", "ls")).ExitCode);
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => Lookup.Pick(items, "1a2b", i => i.Item1, i => i.Item2, "agent", "ls")).ExitCode);
        Assert.Equal(ExitCodes.NotFound, Assert.Throws<CliException>(() => Lookup.Pick(items, "zzzz", i => i.Item1, i => i.Item2, "agent", "ls")).ExitCode);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(StatusCode.Unauthenticated, ExitCodes.Unauthorized)]
    [InlineData(StatusCode.PermissionDenied, ExitCodes.Unauthorized)]
    [InlineData(StatusCode.InvalidArgument, ExitCodes.Usage)]
    [InlineData(StatusCode.FailedPrecondition, ExitCodes.Error)]
    [InlineData(StatusCode.Internal, ExitCodes.Error)]
    public void RpcErrors_MapToExitCodes_InOneLine(StatusCode code, int exitCode)
    {
        var error = ErrorTranslation.FromRpc(new RpcException(new Grpc.Core.Status(code, "first line\n   at Some.Stack.Frame()")), null);
        Assert.Equal(exitCode, error.ExitCode);
        Assert.DoesNotContain('\n', error.Message);
    }
}
