using Baton.AppHost;

namespace Baton.Foundation.Tests.Launcher;

public sealed class CommandLineTests
{
    [Fact]
    public void Defaults_AreTheDocumentedPorts()
    {
        Assert.True(CommandLine.TryParse([], out var options, out var problem), problem);
        Assert.Equal(8080, options.Port);
        Assert.Equal(8081, options.GrpcPort);
        Assert.Equal("127.0.0.1", options.Host);
    }

    [Theory]
    [InlineData(new[] { "--port", "http" }, "--port must be a port number")]
    [InlineData(new[] { "--grpc-port", "70000" }, "--grpc-port must be a port number")]
    [InlineData(new[] { "--port", "9000", "--grpc-port", "9000" }, "must differ")]
    [InlineData(new[] { "--redis", "memcached" }, "--redis must be")]
    [InlineData(new[] { "stray" }, "unexpected argument")]
    public void BadArguments_SayWhatIsWrong(string[] args, string expected)
    {
        Assert.False(CommandLine.TryParse(args, out _, out var problem));
        Assert.Contains(expected, problem);
    }
}
