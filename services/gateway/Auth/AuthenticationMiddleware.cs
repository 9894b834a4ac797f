using Baton.Gateway.Errors;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http;

namespace Baton.Gateway.Auth;

/// <summary>
/// Authenticates every request at the edge (ARCHITECTURE, Authentication). With no admin token
/// auth is disabled, which is only allowed on loopback; even then a foreign Host (DNS rebinding)
/// or a foreign WebSocket Origin is refused.
/// </summary>
public sealed class AuthenticationMiddleware(
    RequestDelegate next, GatewayOptions options, IEnumerable<ICredentialValidator> validators, BatonOptions batonOptions, ILogger<AuthenticationMiddleware> logger)
{
    public const string IdentityItem = "baton.identity";
    private readonly ICredentialValidator[] _validators = validators.ToArray();
    private readonly string _otlpIngestToken = OtlpIngestToken.Derive(batonOptions.InternalSecret);

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest && !IsSameOriginOrAbsent(context))
        {
            await Refuse(context, StatusCodes.Status403Forbidden, "cross-origin WebSocket upgrade refused");
            return;
        }

        if (options.AuthDisabled)
        {
            if (!GatewayOptions.IsLoopbackHost(context.Request.Host.Host))
            {
                await Refuse(context, StatusCodes.Status403Forbidden, "auth is disabled, so only loopback host names are accepted");
                return;
            }
            // A platform user's own credential still says who they are (their integrations and tokens).
            context.Items[IdentityItem] = await IdentifyAsync(Extract(context.Request, RoutePolicy.IsStreaming(context)), context.RequestAborted)
                ?? new CallerIdentity("admin", "auth-disabled");
            await next(context);
            return;
        }

        if (RoutePolicy.IsOpen(context))
        {
            context.Items[IdentityItem] = CallerIdentity.Anonymous;
            await next(context);
            return;
        }

        if (RoutePolicy.IsBindingRoute(context.Request.Path))
        {
            context.Items[IdentityItem] = await IdentifyAsync(Extract(context.Request, streaming: false), context.RequestAborted) ?? CallerIdentity.Anonymous;
            await next(context);
            return;
        }

        var streaming = RoutePolicy.IsStreaming(context);
        if (!streaming && context.Request.Query.ContainsKey("token"))
        {
            await Refuse(context, StatusCodes.Status401Unauthorized,
                "a token in the query string is accepted only on WebSocket and SSE routes; send Authorization: Bearer <token>");
            return;
        }

        var credential = Extract(context.Request, streaming);
        if (credential is null)
        {
            await Refuse(context, StatusCodes.Status401Unauthorized,
                "missing credentials: send Authorization: Bearer <token>, a Coder-Session-Token header, or a session_token cookie");
            return;
        }

        // Agent CLIs' telemetry credential is good for the OTLP receiver and nothing else.
        if (OtlpIngestToken.IsIngestRoute(context.Request.Method, context.Request.Path.Value ?? "")
            && SecretComparer.AreEqual(credential.Token, _otlpIngestToken))
        {
            context.Items[IdentityItem] = new CallerIdentity("otlp-ingest", "otlp-ingest");
            await next(context);
            return;
        }

        if (await IdentifyAsync(credential, context.RequestAborted) is { } identity)
        {
            context.Items[IdentityItem] = identity;
            await next(context);
            return;
        }
        logger.LogInformation("Rejected an invalid {Source} credential for {Method} {Path}", credential.Source, context.Request.Method, context.Request.Path);
        await Refuse(context, StatusCodes.Status401Unauthorized, "invalid token");
    }

    private async ValueTask<CallerIdentity?> IdentifyAsync(PresentedCredential? credential, CancellationToken cancellationToken)
    {
        if (credential is null)
        {
            return null;
        }
        foreach (var validator in _validators)
        {
            if (await validator.ValidateAsync(credential, cancellationToken) is { } identity)
            {
                return identity;
            }
        }
        return null;
    }

    private static PresentedCredential? Extract(HttpRequest request, bool streaming)
    {
        // A Bearer header that does not match is rejected, never retried against other sources.
        if (Bearer(request.Headers.Authorization) is { } bearer)
        {
            return new PresentedCredential(bearer, CredentialSource.AuthorizationHeader);
        }
        if (RoutePolicy.IsProxyBinding(request.Path) && Bearer(request.Headers.ProxyAuthorization) is { } proxy)
        {
            return new PresentedCredential(proxy, CredentialSource.ProxyAuthorization);
        }
        if (request.Headers["Coder-Session-Token"].ToString() is { Length: > 0 } coder)
        {
            return new PresentedCredential(coder, CredentialSource.CoderSessionHeader);
        }
        if (request.Cookies["session_token"] is { Length: > 0 } cookie)
        {
            return new PresentedCredential(cookie, CredentialSource.SessionCookie);
        }
        if (streaming && request.Query["token"].ToString() is { Length: > 0 } query)
        {
            return new PresentedCredential(query, CredentialSource.QueryString);
        }
        return null;
    }

    private static string? Bearer(string? header)
    {
        const string Prefix = "Bearer ";
        return header is not null && header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && header.Length > Prefix.Length
            ? header[Prefix.Length..].Trim()
            : null;
    }

    private static bool IsSameOriginOrAbsent(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin))
        {
            return true;
        }
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static Task Refuse(HttpContext context, int status, string message)
    {
        if (status == StatusCodes.Status401Unauthorized && Bridges.ChatBridge.IsChatSocket(context))
        {
            // 001_* clients learn of a bad token from the close code (Clotho's 4001), not an HTTP status.
            return Bridges.ChatBridge.AcceptAndCloseAsync(context, Bridges.ChatBridge.Unauthorized, "Unauthorized");
        }
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            // A trailers-only gRPC response: the status travels in the headers.
            context.Response.Headers["grpc-status"] = status == 401 ? "16" : "7";
            context.Response.Headers["grpc-message"] = message;
            return Task.CompletedTask;
        }
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        return ErrorResponses.WriteAsync(context, status, message);
    }
}
