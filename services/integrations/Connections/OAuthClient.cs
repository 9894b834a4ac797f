using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Configuration;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Connections;

public sealed record OAuthTokens(string AccessToken, string? RefreshToken, string? TokenType, TimeSpan? ExpiresIn, JsonObject Raw);

/// <summary>The token endpoint refused (for example <c>invalid_grant</c>): the stored grant is dead and the user must connect again.</summary>
public sealed class OAuthGrantException(string message) : Exception(message);

/// <summary>The token endpoint could not be reached or answered something that is not a token response.</summary>
public sealed class OAuthTransportException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The OAuth 2.0 authorization-code grant (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and the
/// refresh grant (§6), speaking to a real authorization server as each connection configures it
/// (client_auth body|header, token_exchange form|json, extra parameters, scope param/separator).
/// </summary>
public sealed class OAuthClient(IHttpClientFactory httpClientFactory)
{
    public const string HttpClientName = "oauth";

    public static (string Verifier, string Challenge) CreatePkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        return (verifier, challenge);
    }

    public static string AuthorizationUrl(OAuthSettings settings, string redirectUri, string state, string? codeChallenge, IReadOnlyList<string> extraScopes,
        IReadOnlyDictionary<string, string> connectionParams)
    {
        var query = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["response_type"] = "code",
            ["client_id"] = settings.ClientId,
            ["redirect_uri"] = redirectUri,
            ["state"] = state,
        };
        var scopes = settings.Scopes.Concat(extraScopes).Distinct(StringComparer.Ordinal).ToList();
        if (scopes.Count > 0)
        {
            query[settings.ScopeParam] = string.Join(settings.ScopeSeparator, scopes);
        }
        if (codeChallenge is not null)
        {
            query["code_challenge"] = codeChallenge;
            query["code_challenge_method"] = "S256";
        }
        foreach (var (key, value) in settings.AuthorizationParams)
        {
            query[key] = value;
        }
        return QueryHelpers.AddQueryString(Interpolate(settings.AuthorizationUrl, connectionParams), query);
    }

    public Task<OAuthTokens> ExchangeCodeAsync(OAuthSettings settings, string code, string redirectUri, string? verifier,
        IReadOnlyDictionary<string, string> connectionParams, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
        };
        if (verifier is not null)
        {
            parameters["code_verifier"] = verifier;
        }
        foreach (var (key, value) in settings.TokenParams)
        {
            parameters[key] = value;
        }
        return RequestTokenAsync(settings, parameters, connectionParams, cancellationToken);
    }

    public Task<OAuthTokens> RefreshAsync(OAuthSettings settings, string refreshToken, IReadOnlyDictionary<string, string> connectionParams, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
        };
        foreach (var (key, value) in settings.RefreshParams)
        {
            parameters[key] = value;
        }
        return RequestTokenAsync(settings, parameters, connectionParams, cancellationToken);
    }

    private async Task<OAuthTokens> RequestTokenAsync(OAuthSettings settings, Dictionary<string, string> parameters,
        IReadOnlyDictionary<string, string> connectionParams, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Interpolate(settings.TokenUrl, connectionParams));
        if (settings.ClientAuth == "header")
        {
            var basic = $"{Uri.EscapeDataString(settings.ClientId)}:{Uri.EscapeDataString(settings.ClientSecret ?? "")}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        }
        else
        {
            parameters["client_id"] = settings.ClientId;
            if (!string.IsNullOrEmpty(settings.ClientSecret))
            {
                parameters["client_secret"] = settings.ClientSecret;
            }
        }
        request.Content = settings.TokenExchange == "json"
            ? JsonContent(parameters)
            : new FormUrlEncodedContent(parameters);
        request.Headers.Accept.ParseAdd(settings.AcceptHeader ?? "application/json");

        HttpResponseMessage response;
        try
        {
            response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new OAuthTransportException($"the token endpoint is unreachable: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OAuthTransportException("the token endpoint timed out", ex);
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonObject? json = null;
            try
            {
                json = JsonNode.Parse(body) as JsonObject;
            }
            catch (JsonException)
            {
                // Some providers answer form-encoded (GitHub without an Accept header).
                var form = QueryHelpers.ParseQuery(body);
                if (form.Count > 0)
                {
                    json = new JsonObject(form.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value.ToString()))));
                }
            }
            if (json is null)
            {
                throw new OAuthTransportException($"the token endpoint answered {(int)response.StatusCode} without a token response");
            }
            if (json["error"]?.GetValue<string>() is { } error)
            {
                var description = json["error_description"]?.GetValue<string>();
                var message = description is null ? error : $"{error}: {description}";
                throw (int)response.StatusCode >= 500
                    ? new OAuthTransportException($"the token endpoint failed: {message}")
                    : new OAuthGrantException(message);
            }
            if (!response.IsSuccessStatusCode)
            {
                throw (int)response.StatusCode >= 500
                    ? new OAuthTransportException($"the token endpoint answered {(int)response.StatusCode}")
                    : new OAuthGrantException($"the token endpoint answered {(int)response.StatusCode}");
            }
            var accessToken = json["access_token"]?.GetValue<string>();
            if (string.IsNullOrEmpty(accessToken))
            {
                throw new OAuthTransportException("the token response has no access_token");
            }
            TimeSpan? expiresIn = json["expires_in"] switch
            {
                JsonValue v when v.TryGetValue<long>(out var seconds) => TimeSpan.FromSeconds(seconds),
                JsonValue v when v.TryGetValue<string>(out var text) && long.TryParse(text, out var parsed) => TimeSpan.FromSeconds(parsed),
                _ => null,
            };
            return new OAuthTokens(accessToken, json["refresh_token"]?.GetValue<string>(), json["token_type"]?.GetValue<string>(), expiresIn, json);
        }
    }

    private static StringContent JsonContent(Dictionary<string, string> parameters) =>
        new(JsonSerializer.Serialize(parameters), Encoding.UTF8, "application/json");

    /// <summary>Fills <c>{param}</c> placeholders (a tenant, a region) from the connection's parameters.</summary>
    public static string Interpolate(string template, IReadOnlyDictionary<string, string> values)
    {
        foreach (var (key, value) in values)
        {
            template = template.Replace("{" + key + "}", Uri.EscapeDataString(value), StringComparison.Ordinal);
        }
        return template;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
