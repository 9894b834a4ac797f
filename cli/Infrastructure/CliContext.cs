using System.CommandLine;

namespace Baton.Cli.Infrastructure;

/// <summary>What a command's action works with: its parsed values, the connection, the clients and the output.</summary>
public sealed class CliContext(ParseResult parse, CancellationToken cancellationToken) : IDisposable
{
    private Connection? _connection;
    private BatonClient? _client;

    public ParseResult Parse => parse;
    public CancellationToken Cancellation => cancellationToken;
    public CredentialStore Credentials { get; } = CredentialStore.Default();
    public Output Output { get; } = new(parse.GetValue(GlobalOptions.Output));
    public Connection Connection => _connection ??= Connection.Resolve(parse, Credentials);
    public BatonClient Baton => _client ??= new BatonClient(Connection);

    /// <summary>The connection if it was resolved (error messages name the address).</summary>
    public Connection? ResolvedConnection => _connection;

    public T Get<T>(Option<T> option) => parse.GetValue(option)!;

    public T Get<T>(Argument<T> argument) => parse.GetValue(argument)!;

    public void Dispose() => _client?.Dispose();
}
