using Baton.Gateway.Errors;
using Microsoft.AspNetCore.WebUtilities;
using Yarp.ReverseProxy.Transforms;

namespace Baton.Gateway.Proxy;

/// <summary>
/// Services throw RpcException; transcoding renders that as <c>{"code","message","details"}</c>.
/// Here it becomes the route family's own error shape, and an unreachable service a clear 503.
/// Successful and streaming responses pass through untouched.
/// </summary>
public static class ServiceErrorTransform
{
    private const int MaxErrorBody = 64 * 1024;
    public const string PassthroughHeader = "x-baton-passthrough";

    /// <summary>Set by the runs service on a 409 for a running singleton session (NOTES §1.3 <c>session_id</c>).</summary>
    private const string SessionIdHeader = "baton-error-session-id";

    public static async ValueTask ApplyAsync(ResponseTransformContext transform, string service)
    {
        var context = transform.HttpContext;
        if (transform.ProxyResponse is null)
        {
            if (context.Response.StatusCode is >= 500 && !context.Response.HasStarted)
            {
                await ErrorResponses.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, $"the {service} service is unavailable");
            }
            return;
        }

        var response = transform.ProxyResponse;
        var statusCode = (int)response.StatusCode;
        // An upstream API's own answer relayed by the integrations service (invoke, proxy bindings) is the caller's to see as is.
        if (context.Response.Headers.Remove(PassthroughHeader) || statusCode < 400)
        {
            return;
        }
        if (response.Content.Headers.ContentLength == 0 || response.Content.Headers.ContentType is null)
        {
            // Routing misses in a service come back empty; say what was not found.
            transform.SuppressResponseBody = true;
            var request = context.Request;
            var message = statusCode == StatusCodes.Status404NotFound
                ? $"no route for {request.Method} {request.Path}"
                : $"{service} service answered {statusCode} {ReasonPhrases.GetReasonPhrase(statusCode)}";
            await ErrorResponses.WriteAsync(context, statusCode, message);
            return;
        }
        if (response.Content.Headers.ContentLength > MaxErrorBody)
        {
            // No error message is that long unless it quotes its input: answer in the family's shape instead of relaying it.
            transform.SuppressResponseBody = true;
            context.Response.Headers.ContentLength = null;
            await ErrorResponses.WriteAsync(context, statusCode, $"{service} service answered {statusCode} {ReasonPhrases.GetReasonPhrase(statusCode)}");
            return;
        }
        if (response.Content.Headers.ContentType.MediaType != "application/json")
        {
            return;
        }
        var body = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        // ReadAsByteArrayAsync buffered the content, so a body we leave alone is still forwarded.
        if (!ErrorResponses.TryReadGrpcStatus(body, out var grpcMessage))
        {
            return;
        }
        transform.SuppressResponseBody = true;
        context.Response.Headers.ContentLength = null;
        var sessionId = response.Headers.TryGetValues(SessionIdHeader, out var values) ? Uri.UnescapeDataString(values.First()) : null;
        context.Response.Headers.Remove(SessionIdHeader);
        await ErrorResponses.WriteAsync(context, statusCode, grpcMessage, sessionId: sessionId);
    }
}
