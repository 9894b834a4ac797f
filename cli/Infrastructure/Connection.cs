using System.CommandLine;

namespace Baton.Cli.Infrastructure;

/// <summary>Where Baton is and which token to send: flags, then BATON_URL/BATON_TOKEN, then the saved login, then loopback defaults.</summary>
public sealed record Connection(Uri Url, Uri GrpcUrl, string? Token)
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static Connection Resolve(ParseResult parse, CredentialStore store)
    {
        var saved = store.Load();
        var urlText = FirstNonEmpty(parse.GetValue(GlobalOptions.Url), Environment.GetEnvironmentVariable("BATON_URL"), saved?.Url, DefaultUrl)!;
        var url = ParseUrl(urlText, "--url");
        // The saved gRPC address belongs to the saved URL only.
        var savedGrpc = saved is not null && SameUrl(saved.Url, url) ? saved.GrpcUrl : null;
        var grpcText = FirstNonEmpty(parse.GetValue(GlobalOptions.GrpcUrl), Environment.GetEnvironmentVariable("BATON_GRPC_URL"), savedGrpc);
        var grpc = grpcText is null ? DeriveGrpcUrl(url) : ParseUrl(grpcText, "--grpc-url");
        var token = FirstNonEmpty(parse.GetValue(GlobalOptions.Token), Environment.GetEnvironmentVariable("BATON_TOKEN"), saved?.Token);
        return new Connection(url, grpc, token);
    }

    /// <summary>Cleartext Kestrel cannot serve HTTP/1.1 and HTTP/2 on one port, so the gateway's gRPC port is the next one (8080 → 8081); with TLS both share one.</summary>
    public static Uri DeriveGrpcUrl(Uri url) =>
        url.Scheme == Uri.UriSchemeHttps ? url : new UriBuilder(url) { Port = url.Port + 1, Path = "/" }.Uri;

    public Uri WebSocketUri(string pathAndQuery)
    {
        var builder = new UriBuilder(new Uri(Url, pathAndQuery)) { Scheme = Url.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" };
        return builder.Uri;
    }

    public static Uri ParseUrl(string text, string what)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw CliException.Usage($"{what} '{text}' is not an http(s) URL; give one like http://127.0.0.1:8080");
        }
        return uri;
    }

    private static bool SameUrl(string text, Uri url) =>
        Uri.TryCreate(text, UriKind.Absolute, out var other) && Uri.Compare(other, url, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
