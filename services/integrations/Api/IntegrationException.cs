using Baton.ServiceDefaults.Hosting;
using Grpc.Core;

namespace Baton.Integrations.Api;

/// <summary>
/// A failure with the HTTP status the 002_* reference gives it (412 no token, 409 ambiguous
/// instance, 502/504 upstream …). Each surface renders it in one place: RPCs as RpcException plus
/// the exact HTTP status, MCP as a tool error, the HTML routes as a page.
/// </summary>
public sealed class IntegrationException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static IntegrationException BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);
    public static IntegrationException NotFound(string message) => new(StatusCodes.Status404NotFound, message);

    public RpcException ToRpc(ServerCallContext context)
    {
        context.SetHttpStatus(Status);
        var code = Status switch
        {
            400 => StatusCode.InvalidArgument,
            401 => StatusCode.Unauthenticated,
            403 => StatusCode.PermissionDenied,
            404 or 410 => StatusCode.NotFound,
            409 => StatusCode.Aborted,
            412 => StatusCode.FailedPrecondition,
            413 => StatusCode.ResourceExhausted,
            502 or 503 => StatusCode.Unavailable,
            504 => StatusCode.DeadlineExceeded,
            _ => StatusCode.Internal,
        };
        return new RpcException(new Status(code, Message));
    }
}
