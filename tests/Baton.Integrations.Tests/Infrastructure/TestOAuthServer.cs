using System.Collections.Concurrent;
using System.Security.Claims;
using Baton.AppHost.Orchestration;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Baton.Integrations.Tests.Infrastructure;

/// <summary>
/// A real OAuth 2.0 / OpenID Connect authorization server (OpenIddict) on a loopback port:
/// discovery, JWKS, the authorization-code grant with PKCE, refresh tokens and signed id_tokens.
/// Its authorization endpoint approves at once, as the user the test registered for that
/// request's state (a browser that is already signed in). Tests can make it refuse refreshes or
/// tamper with the id_token it returns.
/// </summary>
public sealed class TestOAuthServer : IAsyncDisposable
{
    public const string ClientId = "baton";
    public const string ClientSecret = "baton-test-client-secret";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _emailByState = new(StringComparer.Ordinal);

    private TestOAuthServer(WebApplication app, Uri issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    public Uri Issuer { get; }
    public string AuthorizeUrl => new Uri(Issuer, "connect/authorize").ToString();
    public string TokenUrl => new Uri(Issuer, "connect/token").ToString();

    /// <summary>Every access token this server issued, so an upstream can check the bearer it is shown.</summary>
    public ConcurrentBag<string> IssuedAccessTokens { get; } = [];
    public ConcurrentBag<string> IssuedRefreshTokens { get; } = [];
    public ConcurrentQueue<string> GrantTypes { get; } = new();
    public ConcurrentQueue<string> CodeChallenges { get; } = new();
    public volatile bool RefuseRefresh;
    public volatile bool TamperIdToken;
    public string? ExpectedRedirectUri { get; set; }

    public int RefreshCount => GrantTypes.Count(g => g == GrantTypes_RefreshToken);
    private const string GrantTypes_RefreshToken = "refresh_token";

    /// <summary>The next authorization request carrying <paramref name="state"/> signs in as <paramref name="email"/>.</summary>
    public void SignInAs(string state, string email) => _emailByState[state] = email;

    public static async Task<TestOAuthServer> StartAsync(TimeSpan accessTokenLifetime)
    {
        var port = Ports.Free();
        var issuer = new Uri($"http://127.0.0.1:{port}/");
        TestOAuthServer? server = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(issuer.ToString().TrimEnd('/'));
        builder.Services.AddOpenIddict().AddServer(options =>
        {
            options.SetIssuer(issuer);
            options.SetAuthorizationEndpointUris("connect/authorize").SetTokenEndpointUris("connect/token");
            options.AllowAuthorizationCodeFlow().AllowRefreshTokenFlow();
            options.RequireProofKeyForCodeExchange();
            options.RegisterScopes(Scopes.OpenId, Scopes.Email, Scopes.Profile, Scopes.OfflineAccess, "repo", "read");
            options.SetAccessTokenLifetime(accessTokenLifetime);
            options.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
            options.DisableAccessTokenEncryption();
            // No database: this server validates clients and requests itself (below).
            options.EnableDegradedMode();
            options.UseAspNetCore().EnableAuthorizationEndpointPassthrough().DisableTransportSecurityRequirement();

            options.AddEventHandler<OpenIddictServerEvents.ValidateAuthorizationRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.ClientId != ClientId)
                {
                    context.Reject(Errors.InvalidClient, "unknown client_id");
                }
                else if (server!.ExpectedRedirectUri is { } expected && context.RedirectUri != expected)
                {
                    context.Reject(Errors.InvalidRequest, $"redirect_uri {context.RedirectUri} is not registered");
                }
                else
                {
                    server.CodeChallenges.Enqueue(context.Request.CodeChallenge ?? "");
                }
                return default;
            }));
            options.AddEventHandler<OpenIddictServerEvents.ValidateTokenRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                server!.GrantTypes.Enqueue(context.Request.GrantType ?? "");
                if (context.ClientId != ClientId || context.Request.ClientSecret != ClientSecret)
                {
                    context.Reject(Errors.InvalidClient, "client authentication failed");
                }
                else if (context.Request.IsRefreshTokenGrantType() && server.RefuseRefresh)
                {
                    context.Reject(Errors.InvalidGrant, "the refresh token was revoked");
                }
                return default;
            }));
            options.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.Response.AccessToken is { } accessToken)
                {
                    server!.IssuedAccessTokens.Add(accessToken);
                }
                if (context.Response.RefreshToken is { } refreshToken)
                {
                    server!.IssuedRefreshTokens.Add(refreshToken);
                }
                if (server!.TamperIdToken && context.Response.IdToken is { } idToken)
                {
                    context.Response.IdToken = Tamper(idToken);
                }
                return default;
            }).SetOrder(int.MinValue));
        });

        var app = builder.Build();
        server = new TestOAuthServer(app, issuer);
        app.MapMethods("/connect/authorize", ["GET", "POST"], (HttpContext http) =>
        {
            var request = http.GetOpenIddictServerRequest()!;
            var email = server._emailByState.TryRemove(request.State ?? "", out var registered) ? registered : "someone@example.com";
            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.AddClaim(Claims.Subject, email);
            identity.AddClaim(Claims.Email, email);
            identity.AddClaim(Claims.EmailVerified, "true", ClaimValueTypes.Boolean);
            identity.AddClaim(Claims.Name, email.Split('@')[0]);
            var principal = new ClaimsPrincipal(identity);
            principal.SetScopes(request.GetScopes());
            principal.SetDestinations(claim => [Destinations.AccessToken, Destinations.IdentityToken]);
            return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        });
        await app.StartAsync();
        return server;
    }

    /// <summary>Changes the payload's e-mail and keeps the signature: what an attacker who cannot sign would send.</summary>
    private static string Tamper(string jwt)
    {
        var parts = jwt.Split('.');
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Base64UrlEncoder.Decode(parts[1]))!.AsObject();
        payload["email"] = "attacker@example.com";
        parts[1] = Base64UrlEncoder.Encode(payload.ToJsonString());
        return string.Join('.', parts);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
