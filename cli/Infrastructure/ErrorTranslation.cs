using System.Net.Sockets;
using System.Text.Json;
using Grpc.Core;

namespace Baton.Cli.Infrastructure;

/// <summary>Every failure the CLI can meet, as one line that says what to do and an exit code.</summary>
public static class ErrorTranslation
{
    private const int MaxMessage = 400;

    public static CliException Translate(Exception exception, Connection? connection) => exception switch
    {
        CliException cli => cli,
        RpcException rpc => FromRpc(rpc, connection),
        HttpRequestException http when http.StatusCode is null => Unreachable(connection?.Url, http),
        SocketException socket => Unreachable(connection?.Url, socket),
        _ => new CliException(ExitCodes.Error, $"{exception.GetType().Name}: {exception.Message}"),
    };

    public static CliException FromRpc(RpcException rpc, Connection? connection)
    {
        var detail = rpc.Status.Detail;
        // A path the gateway does not route answers 404 as HTTP, which grpc-dotnet reports as Unimplemented or a bad response.
        if (rpc.StatusCode == StatusCode.Unimplemented || detail.Contains("Bad gRPC response. HTTP status code: 404", StringComparison.Ordinal))
        {
            return new CliException(ExitCodes.Error, $"this Baton does not serve that call yet ({OneLine(detail)}); update Baton or the CLI");
        }
        return rpc.StatusCode switch
        {
            StatusCode.Unavailable when rpc.Status.DebugException is { } inner => Unreachable(connection?.GrpcUrl, inner, "'s gRPC port"),
            StatusCode.Unavailable => new CliException(ExitCodes.Error, $"Baton is unavailable: {OneLine(detail)}; check 'baton status'"),
            StatusCode.Unauthenticated => Unauthorized(detail),
            StatusCode.PermissionDenied => new CliException(ExitCodes.Unauthorized, $"forbidden: {OneLine(detail)}; log in as a user allowed to do this"),
            StatusCode.NotFound => CliException.NotFound($"not found: {OneLine(detail)}"),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => CliException.Usage($"rejected: {OneLine(detail)}"),
            StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.Aborted => new CliException(ExitCodes.Error, $"conflict: {OneLine(detail)}"),
            StatusCode.DeadlineExceeded => new CliException(ExitCodes.Error, $"timed out: {OneLine(detail)}; try again, or check 'baton status'"),
            StatusCode.ResourceExhausted => new CliException(ExitCodes.Error, $"cut off: {OneLine(detail)}; try again"),
            _ => new CliException(ExitCodes.Error, $"{rpc.StatusCode}: {OneLine(detail)}"),
        };
    }

    /// <summary>An HTTP error answer: the route family's body (plain text, or JSON with message/detail/error) in one line.</summary>
    public static CliException FromHttpStatus(int status, string? body, string what)
    {
        var detail = string.IsNullOrWhiteSpace(body) ? $"{what} answered {status}" : ExtractMessage(body);
        return status switch
        {
            401 => Unauthorized(detail),
            403 => new CliException(ExitCodes.Unauthorized, $"forbidden: {OneLine(detail)}"),
            404 => CliException.NotFound($"not found: {OneLine(detail)}"),
            400 or 413 or 414 or 415 or 422 => CliException.Usage($"rejected: {OneLine(detail)}"),
            409 => new CliException(ExitCodes.Error, $"conflict: {OneLine(detail)}"),
            _ => new CliException(ExitCodes.Error, $"Baton answered {status}: {OneLine(detail)}"),
        };
    }

    public static CliException Unreachable(Uri? address, Exception exception, string what = "")
    {
        var reason = Innermost(exception) switch
        {
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain } => "unknown host",
            SocketException socket => socket.SocketErrorCode.ToString(),
            TimeoutException or OperationCanceledException => "timed out",
            var other => OneLine(other.Message),
        };
        return new CliException(ExitCodes.Error,
            $"cannot reach Baton{what} at {address?.ToString().TrimEnd('/') ?? "(no address)"} ({reason}); is it running? Start it with 'dotnet run --project Aspire.AppHost', or point --url/BATON_URL (and --grpc-url/BATON_GRPC_URL) at it");
    }

    private static CliException Unauthorized(string detail) => new(ExitCodes.Unauthorized,
        $"unauthorized ({OneLine(detail)}); log in with 'baton login --token <token>' or set BATON_TOKEN");

    private static Exception Innermost(Exception exception)
    {
        var current = exception;
        while (current.InnerException is { } inner)
        {
            current = inner;
        }
        return current;
    }

    private static string ExtractMessage(string body)
    {
        var trimmed = body.Trim();
        if (trimmed.StartsWith('{'))
        {
            try
            {
                using var json = JsonDocument.Parse(trimmed);
                foreach (var name in new[] { "message", "detail", "error" })
                {
                    if (json.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
                    {
                        return text;
                    }
                }
            }
            catch (JsonException)
            {
            }
        }
        return trimmed;
    }

    public static string OneLine(string text)
    {
        var line = string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= MaxMessage ? line : line[..MaxMessage] + "…";
    }
}
