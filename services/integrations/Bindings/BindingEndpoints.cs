using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Connections;
using Baton.Integrations.Security;
using Baton.ServiceDefaults.Events;

namespace Baton.Integrations.Bindings;

/// <summary>
/// The dynamic <c>/api/v1/bindings/{name}/…</c> routes. A <c>webhook</c> binding accepts POSTs at
/// its path, verifies the HMAC-SHA256 signature (hex, optionally <c>sha256=</c>-prefixed) and
/// publishes <see cref="WebhookReceived"/> on the event bus. A <c>proxy</c> binding forwards any
/// request under its path to its integration's base URL with the caller's stored credentials;
/// the caller authenticates with <c>Proxy-Authorization: Bearer</c> (or any gateway credential).
/// </summary>
public static class BindingEndpoints
{
    public const int MaxBodyBytes = 1024 * 1024;
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "Host", "Authorization", "Cookie", "Content-Length", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For", "X-Forwarded-Prefix",
    };
    private static readonly string[] ForwardedWebhookHeaders = ["Content-Type", "User-Agent", "X-GitHub-Event", "X-GitHub-Delivery", "X-Event-Type", "X-Request-Id"];

    public static IEndpointRouteBuilder MapBindingRoutes(this IEndpointRouteBuilder app)
    {
        app.Map("/api/v1/bindings/{name}/{**rest}", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http, string name, string? rest, SettingsProvider settings, IEventBus bus, ConnectionService connections,
        IHttpClientFactory httpClientFactory, TimeProvider time, ILogger<BindingModel> logger)
    {
        try
        {
            if (!settings.Current.Bindings.TryGetValue(name, out var binding))
            {
                throw IntegrationException.NotFound($"binding \"{ConnectionService.Truncate(name)}\" not found");
            }
            var subPath = "/" + (rest ?? "");
            if (binding.Type == "webhook")
            {
                await HandleWebhookAsync(http, binding, subPath, bus, time, logger);
            }
            else
            {
                await HandleProxyAsync(http, binding, subPath, connections, httpClientFactory);
            }
        }
        catch (IntegrationException ex)
        {
            if (ex.Status == StatusCodes.Status401Unauthorized)
            {
                http.Response.Headers.ProxyAuthenticate = "Bearer";
            }
            await BrowserEndpoints.WriteErrorAsync(http, ex);
        }
    }

    private static async Task HandleWebhookAsync(HttpContext http, BindingModel binding, string subPath, IEventBus bus, TimeProvider time, ILogger logger)
    {
        if (!PathMatches(binding.Path, subPath))
        {
            throw IntegrationException.NotFound($"no route {subPath} on binding \"{binding.Name}\"");
        }
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            http.Response.Headers.Allow = "POST";
            throw new IntegrationException(StatusCodes.Status405MethodNotAllowed, "webhooks accept POST only");
        }
        var body = await ReadBodyAsync(http);
        if (binding.AuthMode == "signed")
        {
            var signature = http.Request.Headers[binding.SignatureHeader].ToString();
            if (string.IsNullOrEmpty(signature))
            {
                throw new IntegrationException(StatusCodes.Status401Unauthorized, "missing signature");
            }
            if (!SignatureMatches(binding.SigningSecret!, body, signature))
            {
                logger.LogWarning("Refused a webhook for binding {Binding}: invalid signature", binding.Name);
                throw new IntegrationException(StatusCodes.Status401Unauthorized, "invalid signature");
            }
        }
        JsonElement? payload = null;
        if (body.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false });
                payload = document.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw IntegrationException.BadRequest($"the webhook body is not valid JSON: {ConnectionService.Truncate(ex.Message)}");
            }
        }
        var headers = ForwardedWebhookHeaders
            .Where(h => http.Request.Headers.ContainsKey(h))
            .ToDictionary(h => h.ToLowerInvariant(), h => ConnectionService.Truncate(http.Request.Headers[h].ToString()), StringComparer.Ordinal);
        var received = new WebhookReceived(Guid.NewGuid().ToString("n"), $"webhook.{binding.Name}", binding.Name, binding.Provider, time.GetUtcNow(), headers, payload);
        await bus.PublishAsync(WebhookReceived.Topic, received, http.RequestAborted);
        logger.LogInformation("Accepted webhook {Id} on binding {Binding}", received.Id, binding.Name);
        await http.Response.WriteAsJsonAsync(new { status = "accepted", event_id = received.Id, type = received.Type }, http.RequestAborted);
    }

    public static bool SignatureMatches(string secret, ReadOnlySpan<byte> body, string presented)
    {
        var hex = presented.StartsWith("sha256=", StringComparison.OrdinalIgnoreCase) ? presented[7..] : presented;
        byte[] signature;
        try
        {
            signature = Convert.FromHexString(hex.Trim());
        }
        catch (FormatException)
        {
            return false;
        }
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body);
        return CryptographicOperations.FixedTimeEquals(signature, expected);
    }

    private static async Task HandleProxyAsync(HttpContext http, BindingModel binding, string subPath, ConnectionService connections, IHttpClientFactory httpClientFactory)
    {
        var prefix = binding.Path == "/" ? "" : binding.Path;
        if (!(subPath == prefix || subPath.StartsWith(prefix + "/", StringComparison.Ordinal) || prefix.Length == 0))
        {
            throw IntegrationException.NotFound($"no route {subPath} on binding \"{binding.Name}\"");
        }
        if (!binding.Methods.Contains(http.Request.Method.ToUpperInvariant()))
        {
            throw new IntegrationException(StatusCodes.Status405MethodNotAllowed, $"binding \"{binding.Name}\" does not forward {http.Request.Method}");
        }
        var caller = Caller.From(http);
        if (caller.IsAnonymous)
        {
            throw new IntegrationException(StatusCodes.Status401Unauthorized, "not authenticated: send Proxy-Authorization: Bearer <token>");
        }
        var integration = connections.Integration(binding.Provider!);
        if (!caller.MayUse(integration.Name))
        {
            throw new IntegrationException(StatusCodes.Status403Forbidden, $"this token's scopes do not include integration \"{integration.Name}\"");
        }
        var instance = http.Request.Query["_instance"].ToString() is { Length: > 0 } requested ? requested : binding.Instance;
        var credentials = await connections.ResolveAsync(caller, integration, integration.DefaultConnection, ConnectionService.CheckSelector(instance, "instance"), http.RequestAborted);
        var forwardPath = subPath[prefix.Length..];
        if (forwardPath.Contains("/../", StringComparison.Ordinal) || forwardPath.EndsWith("/..", StringComparison.Ordinal))
        {
            throw IntegrationException.BadRequest("the path must not contain ..");
        }
        var query = QueryString.Create(http.Request.Query.Where(q => q.Key != "_instance"));
        var target = OAuthClient.Interpolate(integration.BaseUrl ?? "", credentials.Params) + forwardPath + query;
        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), target);
        var body = await ReadBodyAsync(http);
        if (body.Length > 0)
        {
            request.Content = new ByteArrayContent(body);
        }
        foreach (var (header, values) in http.Request.Headers)
        {
            if (HopByHop.Contains(header) || header.StartsWith("x-baton-", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!request.Headers.TryAddWithoutValidation(header, values.ToArray()) && request.Content is not null)
            {
                request.Content.Headers.TryAddWithoutValidation(header, values.ToArray());
            }
        }
        foreach (var (header, value) in integration.Headers)
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }
        foreach (var (header, value) in ConnectionService.CredentialHeaders(credentials.Connection, credentials.Secret))
        {
            request.Headers.Remove(header);
            request.Headers.TryAddWithoutValidation(header, value);
        }
        HttpResponseMessage response;
        try
        {
            response = await httpClientFactory.CreateClient(Invocation.OperationInvoker.HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted);
        }
        catch (HttpRequestException)
        {
            throw new IntegrationException(StatusCodes.Status502BadGateway, "failed to reach upstream service");
        }
        using (response)
        {
            http.Response.StatusCode = (int)response.StatusCode;
            foreach (var (header, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(header))
                {
                    http.Response.Headers[header] = values.ToArray();
                }
            }
            http.Response.Headers[IntegrationsApi.PassthroughHeader] = "1";
            await response.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
        }
    }

    private static bool PathMatches(string configured, string requested) =>
        string.Equals(configured.TrimEnd('/'), requested.TrimEnd('/'), StringComparison.Ordinal);

    private static async Task<byte[]> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            throw new IntegrationException(StatusCodes.Status413PayloadTooLarge, "request body too large (limit 1 MB)");
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new IntegrationException(StatusCodes.Status413PayloadTooLarge, "request body too large (limit 1 MB)");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
