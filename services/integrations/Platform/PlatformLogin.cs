using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Connections;
using Baton.Integrations.Security;
using Baton.Integrations.Storage;
using Baton.Integrations.Tokens;
using Baton.ServiceDefaults.Security;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Baton.Integrations.Platform;

public sealed record LoginResult(string Email, string DisplayName, string SessionToken, DateTimeOffset ExpiresAt, string ClientState, int CallbackPort);

/// <summary>
/// Platform login (002_* /api/v1/auth/*): <c>local</c> signs in the configured user by e-mail;
/// <c>oidc</c> runs the authorization-code flow against any OpenID provider found by discovery,
/// with state (single use, 10 minutes), nonce and optional PKCE, and accepts an id_token only when
/// its signature verifies against the issuer's JWKS and its issuer, audience, lifetime and nonce
/// match. A successful login creates the user and a session whose token becomes the
/// <c>session_token</c> cookie.
/// </summary>
public sealed class PlatformLogin(
    SettingsProvider settings,
    IntegrationsStore store,
    TokenService tokens,
    IHttpClientFactory httpClientFactory,
    TimeProvider time,
    ILogger<PlatformLogin> logger)
{
    private const string LoginStateKind = "login";
    private readonly ConcurrentDictionary<string, ConfigurationManager<OpenIdConnectConfiguration>> _discovery = new(StringComparer.Ordinal);

    private sealed record LoginState(string ClientState, int CallbackPort, string? Nonce, string? Verifier, string? LocalCode);

    public PlatformAuthSettings Auth => settings.Current.Auth;

    public async Task<string> StartAsync(string? clientState, int callbackPort, CancellationToken cancellationToken)
    {
        if (clientState is { Length: > 512 } || clientState?.Any(char.IsControl) == true)
        {
            throw IntegrationException.BadRequest("state must be at most 512 printable characters");
        }
        if (callbackPort is < 0 or > 65535)
        {
            throw IntegrationException.BadRequest("callback_port must be a TCP port (1-65535)");
        }
        var auth = Auth;
        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        switch (auth.Provider)
        {
            case "local":
                {
                    var code = Base64Url(RandomNumberGenerator.GetBytes(32));
                    await SaveStateAsync(state, new LoginState(clientState ?? "", callbackPort, null, null, code), cancellationToken);
                    return QueryHelpers.AddQueryString(settings.Current.Server.LoginRedirectUrl, new Dictionary<string, string?> { ["code"] = code, ["state"] = state });
                }
            case "oidc":
                {
                    var configuration = await DiscoverAsync(auth, cancellationToken);
                    var nonce = Base64Url(RandomNumberGenerator.GetBytes(32));
                    var (verifier, challenge) = auth.Pkce ? OAuthClient.CreatePkce() : (null, null);
                    await SaveStateAsync(state, new LoginState(clientState ?? "", callbackPort, nonce, verifier, null), cancellationToken);
                    var query = new Dictionary<string, string?>
                    {
                        ["response_type"] = "code",
                        ["client_id"] = auth.ClientId,
                        ["redirect_uri"] = auth.RedirectUrl,
                        ["scope"] = string.Join(' ', auth.Scopes),
                        ["state"] = state,
                        ["nonce"] = nonce,
                    };
                    if (challenge is not null)
                    {
                        query["code_challenge"] = challenge;
                        query["code_challenge_method"] = "S256";
                    }
                    return QueryHelpers.AddQueryString(configuration.AuthorizationEndpoint, query);
                }
            default:
                throw IntegrationException.BadRequest("platform login is not configured (auth provider none)");
        }
    }

    public async Task<LoginResult> CompleteAsync(string? code, string? state, string? error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(code) && string.IsNullOrEmpty(error))
        {
            throw IntegrationException.BadRequest("missing code parameter");
        }
        if (string.IsNullOrEmpty(state))
        {
            throw IntegrationException.BadRequest("missing state parameter");
        }
        var stored = await store.GetStateAsync(TokenHash.Of(state), LoginStateKind, consume: true, cancellationToken)
            ?? throw new IntegrationException(StatusCodes.Status403Forbidden, "login state validation failed: unknown, used or expired state");
        var loginState = JsonSerializer.Deserialize<LoginState>(stored.Payload)!;
        if (!string.IsNullOrEmpty(error))
        {
            throw new IntegrationException(StatusCodes.Status401Unauthorized, $"login failed: the provider answered {ConnectionService.Truncate(error)}");
        }
        string email;
        string displayName;
        var auth = Auth;
        if (auth.Provider == "local")
        {
            if (loginState.LocalCode is null || !SecretComparer.AreEqual(code, loginState.LocalCode))
            {
                throw new IntegrationException(StatusCodes.Status401Unauthorized, "login failed");
            }
            (email, displayName) = (auth.LocalEmail!, auth.LocalEmail!);
        }
        else if (auth.Provider == "oidc")
        {
            (email, displayName) = await CompleteOidcAsync(auth, code!, loginState, cancellationToken);
        }
        else
        {
            throw IntegrationException.BadRequest("platform login is not configured (auth provider none)");
        }
        var user = await store.UpsertUserAsync(email, displayName, cancellationToken);
        var (token, expiresAt) = await tokens.StartSessionAsync(user.Id, cancellationToken);
        logger.LogInformation("User {Email} signed in with {Provider}", email, auth.Provider);
        return new LoginResult(user.Email, user.DisplayName, token, expiresAt, loginState.ClientState, loginState.CallbackPort);
    }

    private async Task<(string Email, string DisplayName)> CompleteOidcAsync(PlatformAuthSettings auth, string code, LoginState state, CancellationToken cancellationToken)
    {
        var configuration = await DiscoverAsync(auth, cancellationToken);
        var parameters = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = auth.RedirectUrl!,
            ["client_id"] = auth.ClientId!,
        };
        if (!string.IsNullOrEmpty(auth.ClientSecret))
        {
            parameters["client_secret"] = auth.ClientSecret;
        }
        if (state.Verifier is not null)
        {
            parameters["code_verifier"] = state.Verifier;
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, configuration.TokenEndpoint) { Content = new FormUrlEncodedContent(parameters) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        string idToken;
        try
        {
            using var response = await httpClientFactory.CreateClient(OAuthClient.HttpClientName).SendAsync(request, cancellationToken);
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject;
            if (!response.IsSuccessStatusCode || json?["id_token"]?.GetValue<string>() is not { Length: > 0 } value)
            {
                var reason = json?["error"]?.GetValue<string>() ?? $"HTTP {(int)response.StatusCode}";
                logger.LogWarning("OIDC code exchange failed: {Reason}", reason);
                throw new IntegrationException(StatusCodes.Status401Unauthorized, $"login failed: code exchange refused ({ConnectionService.Truncate(reason)})");
            }
            idToken = value;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException)
        {
            logger.LogWarning("OIDC token endpoint failed: {Reason}", ex.Message);
            throw new IntegrationException(StatusCodes.Status502BadGateway, "login failed: the identity provider is unreachable");
        }

        var result = await ValidateIdTokenAsync(auth, configuration, idToken);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // The provider may have rotated its keys since we fetched them.
            _discovery[auth.IssuerUrl!].RequestRefresh();
            result = await ValidateIdTokenAsync(auth, await DiscoverAsync(auth, cancellationToken), idToken);
        }
        if (!result.IsValid)
        {
            logger.LogWarning("Refused an id_token: {Reason}", result.Exception?.GetType().Name ?? "invalid");
            throw new IntegrationException(StatusCodes.Status401Unauthorized, "login failed: the id_token is not valid");
        }
        var claims = result.Claims;
        if (!claims.TryGetValue("nonce", out var nonce) || !SecretComparer.AreEqual(nonce?.ToString(), state.Nonce ?? ""))
        {
            throw new IntegrationException(StatusCodes.Status401Unauthorized, "login failed: the id_token nonce does not match");
        }
        if (!claims.TryGetValue("email", out var emailClaim) || emailClaim?.ToString() is not { Length: > 0 } email)
        {
            throw new IntegrationException(StatusCodes.Status401Unauthorized, "login failed: the id_token carries no email (request the email scope)");
        }
        if (claims.TryGetValue("email_verified", out var verified) && verified is false or "false")
        {
            throw new IntegrationException(StatusCodes.Status403Forbidden, "login failed: the email address is not verified");
        }
        if (auth.AllowedDomains.Count > 0)
        {
            var domain = email[(email.LastIndexOf('@') + 1)..];
            if (!auth.AllowedDomains.Contains(domain, StringComparer.OrdinalIgnoreCase))
            {
                throw new IntegrationException(StatusCodes.Status403Forbidden, $"login failed: the domain \"{ConnectionService.Truncate(domain)}\" is not allowed");
            }
        }
        var name = claims.TryGetValue("name", out var nameClaim) && nameClaim?.ToString() is { Length: > 0 } n ? n : email;
        return (email, name);
    }

    private Task<TokenValidationResult> ValidateIdTokenAsync(PlatformAuthSettings auth, OpenIdConnectConfiguration configuration, string idToken) =>
        new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = auth.ClientId,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromMinutes(1),
            LifetimeValidator = (notBefore, expires, _, parameters) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return (notBefore is null || notBefore.Value - parameters.ClockSkew <= now) && expires is { } e && e + parameters.ClockSkew > now;
            },
        });

    private async Task<OpenIdConnectConfiguration> DiscoverAsync(PlatformAuthSettings auth, CancellationToken cancellationToken)
    {
        var manager = _discovery.GetOrAdd(auth.IssuerUrl!, issuer =>
        {
            var retriever = new HttpDocumentRetriever(httpClientFactory.CreateClient(OAuthClient.HttpClientName))
            {
                RequireHttps = issuer.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
            };
            return new ConfigurationManager<OpenIdConnectConfiguration>($"{issuer}/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), retriever);
        });
        try
        {
            return await manager.GetConfigurationAsync(cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            logger.LogWarning("OIDC discovery at {Issuer} failed: {Reason}", auth.IssuerUrl, ex.Message);
            throw new IntegrationException(StatusCodes.Status502BadGateway, "the identity provider's discovery document could not be read");
        }
    }

    private Task SaveStateAsync(string state, LoginState payload, CancellationToken cancellationToken) =>
        store.PutStateAsync(TokenHash.Of(state), LoginStateKind, "", JsonSerializer.SerializeToUtf8Bytes(payload), time.GetUtcNow() + ConnectionService.StateLifetime, cancellationToken);

    public Task<bool> LogoutAsync(string? token, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(token) ? Task.FromResult(false) : tokens.EndSessionAsync(token, cancellationToken);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
