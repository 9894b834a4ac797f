namespace Baton.Gateway.Errors;

/// <summary>
/// The gateway's own transcoded routes (/api/v2, /api/status, /api/metrics/summary) are unary and
/// small: their responses are buffered so a gRPC error becomes the route family's shape, exactly as
/// <see cref="Proxy.ServiceErrorTransform"/> does for the services' routes.
/// </summary>
public static class OwnRouteErrorShaping
{
    public static IApplicationBuilder UseOwnRouteErrorShaping(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var path = context.Request.Path;
        if (!(path.StartsWithSegments("/api/v2") || path.Equals("/api/status") || path.Equals("/api/metrics/summary")))
        {
            await next(context);
            return;
        }
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }
        if (context.Response.StatusCode >= 400 && ErrorResponses.TryReadGrpcStatus(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), out var message))
        {
            await ErrorResponses.WriteAsync(context, context.Response.StatusCode, message);
            return;
        }
        buffer.Position = 0;
        await buffer.CopyToAsync(original, context.RequestAborted);
    });
}
