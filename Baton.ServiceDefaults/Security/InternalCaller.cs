using Baton.ServiceDefaults.Configuration;
using Microsoft.AspNetCore.Http;

namespace Baton.ServiceDefaults.Security;

/// <summary>
/// Headers the gateway uses to vouch for a request. It strips them from incoming requests before
/// adding its own, so only the gateway or another Baton service can set them.
/// </summary>
public static class InternalHeaders
{
    public const string Secret = "x-baton-internal";
    public const string User = "x-baton-user";
    public const string AuthKind = "x-baton-auth-kind";
    /// <summary>Space-separated integration names an API token is limited to; absent means unrestricted.</summary>
    public const string Scopes = "x-baton-scopes";
    public const string Prefix = "x-baton-";
}

/// <summary>Rejects every request that does not carry the internal secret, except liveness probes.</summary>
public sealed class InternalCallerMiddleware(RequestDelegate next, BatonOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/health") || path.StartsWithSegments("/alive")
            || SecretComparer.AreEqual(context.Request.Headers[InternalHeaders.Secret], options.InternalSecret))
        {
            await next(context);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "16";
            context.Response.Headers["grpc-message"] = "internal caller secret missing or wrong";
            return;
        }
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync("services accept calls only through the Baton gateway", context.RequestAborted);
    }
}

/// <summary>Adds the internal secret to calls from one Baton service to another (never to third parties).</summary>
public sealed class InternalSecretHandler(BatonOptions options) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Remove(InternalHeaders.Secret);
        request.Headers.TryAddWithoutValidation(InternalHeaders.Secret, options.InternalSecret);
        return base.SendAsync(request, cancellationToken);
    }
}
