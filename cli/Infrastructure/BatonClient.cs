using System.Net.Http.Headers;
using System.Net.WebSockets;
using Baton.Contracts.Gateway.V1;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Integrations.V1;
using Baton.Contracts.Runs.V1;
using Grpc.Net.Client;
using GatewayLogs = Baton.Contracts.Gateway.V1.Logs;

namespace Baton.Cli.Infrastructure;

/// <summary>The generated gRPC clients on the gateway's gRPC port, plus REST and WebSocket for what has no RPC.</summary>
public sealed class BatonClient(Connection connection) : IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private GrpcChannel? _channel;
    private HttpClient? _http;

    public Connection Connection => connection;

    private GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress(connection.GrpcUrl, new GrpcChannelOptions
    {
        HttpHandler = WithToken(new SocketsHttpHandler { ConnectTimeout = ConnectTimeout, EnableMultipleHttp2Connections = true }),
        DisposeHttpClient = true,
        MaxReceiveMessageSize = 64 * 1024 * 1024,
    });

    public RunsService.RunsServiceClient Runs => new(Channel);
    public SessionsService.SessionsServiceClient Sessions => new(Channel);
    public Baton.Contracts.Chat.V1.ChatService.ChatServiceClient Chat => new(Channel);
    public FlowsService.FlowsServiceClient Flows => new(Channel);
    public GitRestService.GitRestServiceClient Git => new(Channel);
    public SystemStatus.SystemStatusClient Status => new(Channel);
    public GatewayLogs.LogsClient Logs => new(Channel);
    public IntegrationsService.IntegrationsServiceClient Integrations => new(Channel);

    /// <summary>REST on the gateway's HTTP port, with the token.</summary>
    public HttpClient Http => _http ??= new HttpClient(WithToken(new SocketsHttpHandler { ConnectTimeout = ConnectTimeout }))
    {
        BaseAddress = connection.Url,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Opens a WebSocket on the gateway; a refused upgrade becomes the HTTP status's exit code and message.</summary>
    public async Task<ClientWebSocket> ConnectWebSocketAsync(string pathAndQuery, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(15);
        if (!string.IsNullOrEmpty(connection.Token))
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + connection.Token);
        }
        var uri = connection.WebSocketUri(pathAndQuery);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
            return socket;
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var status = (int)socket.HttpStatusCode;
            socket.Dispose();
            if (status >= 400)
            {
                throw ErrorTranslation.FromHttpStatus(status, null, $"WebSocket {uri.AbsolutePath}");
            }
            throw ErrorTranslation.Unreachable(connection.Url, ex);
        }
    }

    private HttpMessageHandler WithToken(HttpMessageHandler inner) =>
        string.IsNullOrEmpty(connection.Token) ? inner : new BearerHandler(connection.Token) { InnerHandler = inner };

    public void Dispose()
    {
        _channel?.Dispose();
        _http?.Dispose();
    }

    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
