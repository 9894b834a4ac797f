using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Integrations.V1;
using Baton.Integrations.Catalog;
using Baton.Integrations.Configuration;
using Baton.Integrations.Connections;
using Baton.Integrations.Invocation;
using Baton.Integrations.Platform;
using Baton.Integrations.Security;
using Baton.Integrations.Tokens;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Integrations.Api;

/// <summary>
/// The gRPC boundary of the 002_* surface: maps proto ⇄ domain and renders
/// <see cref="IntegrationException"/> as RpcException with the reference's exact HTTP status.
/// </summary>
public sealed class IntegrationsApi(
    BatonOptions options,
    SettingsProvider settings,
    ConnectionService connections,
    OperationInvoker invoker,
    TokenService tokens,
    PlatformLogin login) : IntegrationsService.IntegrationsServiceBase
{
    public const string SessionCookie = "session_token";
    /// <summary>Tells the gateway to pass an upstream's error response through instead of reshaping it.</summary>
    public const string PassthroughHeader = "x-baton-passthrough";
    public const int MaxInvokeBodyBytes = 1024 * 1024;

    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context)
    {
        var status = StatusReporter.Describe(options);
        status.Counters["integrations_configured"] = settings.Current.Integrations.Count;
        status.Counters["bindings_configured"] = settings.Current.Bindings.Count;
        return Task.FromResult(status);
    }

    public override Task<AuthInfo> GetAuthInfo(Empty request, ServerCallContext context) =>
        Task.FromResult(new AuthInfo { Provider = login.Auth.Provider, DisplayName = login.Auth.DisplayName });

    public override Task<LoginUrl> StartLogin(StartLoginRequest request, ServerCallContext context) => Run(context, async () =>
        new LoginUrl { Url = await login.StartAsync(request.State, request.CallbackPort, context.CancellationToken) });

    public override Task<StatusReply> Logout(Empty request, ServerCallContext context) => Run(context, async () =>
    {
        var http = context.GetHttpContext();
        var token = http.Request.Cookies[SessionCookie] ?? Bearer(http.Request.Headers.Authorization.ToString());
        await login.LogoutAsync(token, context.CancellationToken);
        http.Response.Cookies.Delete(SessionCookie, SessionCookieOptions(http, settings.Current.Server, null));
        return new StatusReply { Status = "ok" };
    });

    public override Task<IntegrationList> ListIntegrations(Empty request, ServerCallContext context) => Run(context, async () =>
    {
        var caller = Caller.Required(context);
        return await IntegrationListing.ListAsync(settings.Current, connections, caller, context.CancellationToken);
    });

    public override Task<OperationList> ListOperations(ListOperationsRequest request, ServerCallContext context) => Run(context, () =>
    {
        Caller.Required(context);
        var integration = connections.Integration(request.Name);
        var list = new OperationList();
        list.Operations.AddRange(integration.Operations.Select(o => CatalogMapper.ToProto(integration, o)));
        return Task.FromResult(list);
    });

    public override Task<StatusReply> Disconnect(DisconnectRequest request, ServerCallContext context) => Run(context, async () =>
    {
        await connections.DisconnectAsync(Caller.Required(context), request.Name, request.Instance, request.Connection, context.CancellationToken);
        return new StatusReply { Status = "disconnected" };
    });

    public override Task<StartOAuthReply> StartOAuth(StartOAuthRequest request, ServerCallContext context) => Run(context, async () =>
    {
        var (url, state) = await connections.StartOAuthAsync(Caller.Required(context), request.Integration, request.Connection, request.Instance,
            request.Scopes, request.ConnectionParams, context.CancellationToken);
        return new StartOAuthReply { Url = url, State = state };
    });

    public override Task<ConnectResult> ConnectManual(ConnectManualRequest request, ServerCallContext context) => Run(context, async () =>
    {
        var outcome = await connections.ConnectManualAsync(Caller.Required(context), request.Integration, request.Connection, request.Instance,
            request.Credential, request.Credentials, request.ConnectionParams, context.CancellationToken);
        return new ConnectResult
        {
            Status = outcome.Status,
            Integration = outcome.Integration,
            SelectionUrl = outcome.PendingToken is null ? "" : ConnectOutcome.PendingPath,
            PendingToken = outcome.PendingToken ?? "",
        };
    });

    public override Task<HttpBody> Invoke(InvokeRequest request, ServerCallContext context) => Run(context, async () =>
    {
        var caller = Caller.Required(context);
        var http = context.GetHttpContext();
        var parameters = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (HttpMethods.IsPost(http.Request.Method) || request.Body is { Data.Length: > 0 })
        {
            var data = request.Body?.Data ?? ByteString.Empty;
            if (data.Length > MaxInvokeBodyBytes)
            {
                throw new IntegrationException(StatusCodes.Status413PayloadTooLarge, "request body too large (limit 1 MB)");
            }
            if (data.Length > 0)
            {
                parameters = ParseObject(data.Span);
            }
            foreach (var selector in new[] { "_instance", "_connection" })
            {
                if (!parameters.ContainsKey(selector) && http.Request.Query[selector].ToString() is { Length: > 0 } value)
                {
                    parameters[selector] = JsonValue.Create(value);
                }
            }
        }
        else
        {
            foreach (var (key, values) in http.Request.Query)
            {
                parameters[key] = JsonValue.Create(values.ToString());
            }
        }
        var result = await invoker.InvokeAsync(caller, request.Integration, request.Operation, parameters, context.CancellationToken);
        context.SetHttpStatus(result.Status);
        http.Response.Headers[PassthroughHeader] = "1";
        return new HttpBody { ContentType = result.ContentType ?? "", Data = ByteString.CopyFrom(result.Body) };
    });

    public override Task<CreatedToken> CreateToken(CreateTokenRequest request, ServerCallContext context) => Run(context, async () =>
    {
        var (record, plaintext) = await tokens.CreateAsync(Caller.Required(context), request.Name, request.Scopes, request.TtlSeconds, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status201Created);
        return new CreatedToken { Id = record.Id, Name = record.Name, Token = plaintext, ExpiresAt = Timestamp.FromDateTimeOffset(record.ExpiresAt) };
    });

    public override Task<TokenList> ListTokens(Empty request, ServerCallContext context) => Run(context, async () =>
    {
        var list = new TokenList();
        foreach (var token in await tokens.ListAsync(Caller.Required(context), context.CancellationToken))
        {
            list.Tokens.Add(new TokenInfo
            {
                Id = token.Id,
                Name = token.Name,
                Scopes = token.Scopes,
                CreatedAt = Timestamp.FromDateTimeOffset(token.CreatedAt),
                ExpiresAt = Timestamp.FromDateTimeOffset(token.ExpiresAt),
            });
        }
        return list;
    });

    public override Task<RevokeReply> RevokeToken(RevokeTokenRequest request, ServerCallContext context) => Run(context, async () =>
    {
        await tokens.RevokeAsync(Caller.Required(context), request.Id, context.CancellationToken);
        return new RevokeReply { Status = "revoked" };
    });

    public override Task<RevokeReply> RevokeAllTokens(Empty request, ServerCallContext context) => Run(context, async () =>
        new RevokeReply { Status = "revoked", Count = await tokens.RevokeAllAsync(Caller.Required(context), context.CancellationToken) });

    public override Task<BindingList> ListBindings(Empty request, ServerCallContext context)
    {
        var list = new BindingList();
        list.Names.AddRange(settings.Current.Bindings.Keys.Order(StringComparer.Ordinal));
        return Task.FromResult(list);
    }

    public override async Task<ValidateCredentialReply> ValidateCredential(ValidateCredentialRequest request, ServerCallContext context)
    {
        var validated = await tokens.ValidateAsync(request.Token, context.CancellationToken);
        if (validated is null)
        {
            return new ValidateCredentialReply { Valid = false };
        }
        var reply = new ValidateCredentialReply
        {
            Valid = true,
            User = validated.User,
            Kind = validated.Kind,
            ExpiresAt = Timestamp.FromDateTimeOffset(validated.ExpiresAt),
        };
        reply.Scopes.AddRange(validated.Scopes);
        return reply;
    }

    public override Task<TokenPolicy> GetTokenPolicy(Empty request, ServerCallContext context) =>
        Task.FromResult(new TokenPolicy { MaxTokenLifetimeSeconds = (long)settings.Current.Server.ApiTokenTtl.TotalSeconds });

    public static CookieOptions SessionCookieOptions(HttpContext http, ServerSettings server, DateTimeOffset? expires) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        Secure = server.BaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || http.Request.IsHttps
            || string.Equals(http.Request.Headers["X-Forwarded-Proto"], "https", StringComparison.OrdinalIgnoreCase),
        Path = "/",
        Expires = expires,
    };

    public static string? Bearer(string header) =>
        header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;

    private static Dictionary<string, JsonNode?> ParseObject(ReadOnlySpan<byte> data)
    {
        try
        {
            if (JsonNode.Parse(data, documentOptions: new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false }) is not JsonObject body)
            {
                throw IntegrationException.BadRequest("the request body must be a JSON object");
            }
            return body.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        }
        catch (JsonException ex)
        {
            throw IntegrationException.BadRequest($"invalid JSON body: {ConnectionService.Truncate(ex.Message)}");
        }
    }

    private static async Task<T> Run<T>(ServerCallContext context, Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (IntegrationException ex)
        {
            throw ex.ToRpc(context);
        }
    }
}
