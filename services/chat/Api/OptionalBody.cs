using Microsoft.AspNetCore.Http.Features;

namespace Baton.Chat.Api;

/// <summary>
/// <c>POST /api/chats</c> takes an optional body (001_*: no body is a chat with the defaults). JSON
/// transcoding refuses a route with a body when the request has none and no media type, so a bodiless
/// create is read as <c>{}</c>. A request that does carry a body is left to the usual checks.
/// </summary>
public static class OptionalBody
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    public static IApplicationBuilder UseOptionalChatBody(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        var bodiless = request.ContentLength == 0 || context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false };
        if (bodiless && string.IsNullOrEmpty(request.ContentType) && HttpMethods.IsPost(request.Method)
            && request.Path.Equals("/api/chats", StringComparison.Ordinal))
        {
            request.ContentType = "application/json";
            request.ContentLength = EmptyObject.Length;
            request.Body = new MemoryStream(EmptyObject, writable: false);
        }
        await next(context);
    });
}
