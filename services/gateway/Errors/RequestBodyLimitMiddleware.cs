using Baton.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.Features;

namespace Baton.Gateway.Errors;

/// <summary>
/// Refuses a body over its route family's cap (<see cref="RequestBodyLimits"/>) at the edge, with
/// 413 in the family's error shape, before a byte of it is proxied; a chunked body is cut at the
/// same cap while it streams. The services enforce the same caps and read JSON strictly.
/// </summary>
public static class RequestBodyLimitMiddleware
{
    public static IApplicationBuilder UseRequestBodyLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || context.WebSockets.IsWebSocketRequest)
        {
            await next(context);
            return;
        }
        var limit = RequestBodyLimits.For(request.Path);
        if (request.ContentLength > limit)
        {
            await ErrorResponses.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                $"the request body is too large: this route accepts at most {limit:N0} bytes");
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }
        await next(context);
    });
}
