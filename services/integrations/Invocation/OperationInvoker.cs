using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Connections;
using Baton.Integrations.Security;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Invocation;

/// <summary>An upstream answer, passed through as is.</summary>
public sealed record InvokeResult(int Status, string? ContentType, byte[] Body);

/// <summary>
/// Invokes an integration operation for a caller (002_* "Invocation Semantics"): resolve the
/// provider and operation, resolve credentials by the connection's mode, auto-select the only
/// instance or fail as ambiguous, refresh an expired OAuth token, then call the upstream and pass
/// its status, body and content type through. 412 no token, 404 unknown, 400 bad selectors or
/// missing parameters, 409 ambiguous, 502 unreachable, 504 timed out.
/// </summary>
public sealed class OperationInvoker(ConnectionService connections, IHttpClientFactory httpClientFactory, IConfiguration configuration, ILogger<OperationInvoker> logger)
{
    public const string HttpClientName = "upstream";
    public const int MaxUpstreamResponseBytes = 16 * 1024 * 1024;
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(
        int.TryParse(configuration["BATON_INVOKE_TIMEOUT_SECONDS"], CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 60);

    public async Task<InvokeResult> InvokeAsync(Caller caller, string integrationName, string operationName, IReadOnlyDictionary<string, JsonNode?> parameters,
        CancellationToken cancellationToken)
    {
        var integration = connections.Integration(integrationName);
        var operation = integration.FindOperation(operationName)
            ?? throw IntegrationException.NotFound($"operation \"{ConnectionService.Truncate(operationName)}\" not found on integration \"{integration.Name}\"");
        if (!caller.MayUse(integration.Name))
        {
            throw new IntegrationException(StatusCodes.Status403Forbidden, $"this token's scopes do not include integration \"{integration.Name}\"");
        }

        var values = new Dictionary<string, JsonNode?>(parameters, StringComparer.Ordinal);
        var instance = ConnectionService.CheckSelector(TakeString(values, "_instance"), "instance");
        var connectionName = ConnectionService.CheckSelector(TakeString(values, "_connection"), "connection");
        var credentials = await connections.ResolveAsync(caller, integration, connectionName is { Length: > 0 } c ? c : operation.Connection, instance, cancellationToken);

        using var request = BuildRequest(integration, operation, values, credentials);
        return await SendAsync(integration, operation, request, cancellationToken);
    }

    private static HttpRequestMessage BuildRequest(IntegrationModel integration, OperationModel operation, Dictionary<string, JsonNode?> values, ResolvedCredentials credentials)
    {
        var path = operation.Path;
        var query = new List<KeyValuePair<string, string?>>();
        var body = new JsonObject();
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var managed in integration.ManagedParameters)
        {
            if (managed.In == "path")
            {
                path = path.Replace("{" + managed.Name + "}", Uri.EscapeDataString(managed.Value ?? ""), StringComparison.Ordinal);
            }
            else
            {
                headers.Add(KeyValuePair.Create(managed.Name!, managed.Value ?? ""));
            }
        }
        foreach (var parameter in operation.Parameters)
        {
            values.TryGetValue(parameter.Name, out var value);
            if (value is null && parameter.Location == "path" && credentials.Params.TryGetValue(parameter.Name, out var fromConnection))
            {
                value = JsonValue.Create(fromConnection);
            }
            if (value is null && parameter.Default is not null)
            {
                value = JsonValue.Create(parameter.Default);
            }
            if (value is null)
            {
                if (parameter.Required)
                {
                    throw IntegrationException.BadRequest(parameter.Location == "path"
                        ? $"missing required path parameter \"{parameter.Name}\""
                        : $"missing required parameter \"{parameter.Name}\"");
                }
                continue;
            }
            switch (parameter.Location)
            {
                case "path":
                    path = path.Replace("{" + parameter.Name + "}", Uri.EscapeDataString(Scalar(value)), StringComparison.Ordinal);
                    break;
                case "query":
                    query.Add(KeyValuePair.Create(parameter.WireName, (string?)Scalar(value)));
                    break;
                case "header":
                    headers.Add(KeyValuePair.Create(parameter.WireName, Scalar(value)));
                    break;
                default:
                    body[parameter.WireName] = value.DeepClone();
                    break;
            }
        }
        var baseUrl = OAuthClient.Interpolate(integration.BaseUrl ?? "", credentials.Params);
        var url = QueryHelpers.AddQueryString(baseUrl + path, query);
        var request = new HttpRequestMessage(new HttpMethod(operation.Method), url);
        foreach (var (name, value) in integration.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        foreach (var (name, value) in ConnectionService.CredentialHeaders(credentials.Connection, credentials.Secret))
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (operation.Method is not ("GET" or "HEAD" or "DELETE") || body.Count > 0)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }
        return request;
    }

    private async Task<InvokeResult> SendAsync(IntegrationModel integration, OperationModel operation, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            using var response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.Content.Headers.ContentLength > MaxUpstreamResponseBytes)
            {
                throw new IntegrationException(StatusCodes.Status502BadGateway, "upstream response too large");
            }
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                if (buffer.Length + read > MaxUpstreamResponseBytes)
                {
                    throw new IntegrationException(StatusCodes.Status502BadGateway, "upstream response too large");
                }
                buffer.Write(chunk, 0, read);
            }
            return new InvokeResult((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), buffer.ToArray());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("{Integration}.{Operation} timed out after {Seconds} s", integration.Name, operation.Id, _timeout.TotalSeconds);
            throw new IntegrationException(StatusCodes.Status504GatewayTimeout, "upstream service timed out");
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("{Integration}.{Operation} failed: {Reason}", integration.Name, operation.Id, ex.Message);
            throw new IntegrationException(StatusCodes.Status502BadGateway, "failed to reach upstream service");
        }
    }

    private static string? TakeString(Dictionary<string, JsonNode?> values, string key)
    {
        if (!values.Remove(key, out var value) || value is null)
        {
            return null;
        }
        return value is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw IntegrationException.BadRequest($"{key} must be a string");
    }

    private static readonly JsonSerializerOptions RelaxedJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A parameter as it goes into a path, query or header: strings as they are, anything else as its JSON text.</summary>
    private static string Scalar(JsonNode value) => value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value.ToJsonString(RelaxedJson);
}
