using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Baton.Runs.Tests.Infrastructure;
using Baton.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>The whole system with its own config directory and a git repository as BATON_WORKDIR.</summary>
public sealed class GestaltSystem : IAsyncDisposable
{
    private GestaltSystem(BatonSystem system, string root)
    {
        System = system;
        Root = root;
        Http = system.CreateClient();
    }

    public BatonSystem System { get; }
    public string Root { get; }
    public string ConfigDir => Path.Combine(Root, "config");
    public string WorkDir => Path.Combine(Root, "work");
    public string FlowsDir => Path.Combine(ConfigDir, "flows");
    public HttpClient Http { get; }

    public static async Task<GestaltSystem> StartAsync(Action<BatonLaunchOptions>? configure = null)
    {
        var root = RunsHost.NewTempDir("gestalt");
        var workDir = GitProcess.CreateRepo(Path.Combine(root, "work"));
        var options = new BatonLaunchOptions { WorkDir = workDir };
        options.Environment["BATON_CONFIG_DIR"] = Path.Combine(root, "config");
        options.Environment["BATON_KEEPALIVE_SECONDS"] = "1";
        options.Environment["BATON_FLOW_WEBHOOK_RETRY_BASE_MS"] = "100";
        configure?.Invoke(options);
        try
        {
            return new GestaltSystem(await BatonSystem.StartAsync(options), root);
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    public Uri WebSocketUri(string pathAndQuery)
    {
        var builder = new UriBuilder(System.GatewayUrl) { Scheme = "ws" };
        var query = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        builder.Path = query < 0 ? pathAndQuery : pathAndQuery[..query];
        builder.Query = query < 0 ? "" : pathAndQuery[(query + 1)..];
        return builder.Uri;
    }

    public async Task<ClientWebSocket> ConnectAsync(string pathAndQuery)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + System.Token);
        await socket.ConnectAsync(WebSocketUri(pathAndQuery), CancellationToken.None);
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await System.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Reads JSON text frames of a WebSocket in the background.</summary>
public sealed class WebSocketFrames : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly Task _reading;
    private readonly ConcurrentQueue<string> _frames = new();

    public WebSocketFrames(ClientWebSocket socket)
    {
        _socket = socket;
        _reading = Task.Run(ReadAsync);
    }

    public IReadOnlyList<string> Frames => [.. _frames];
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseDescription => _socket.CloseStatusDescription;
    public Task Completion => _reading;

    private async Task ReadAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                using var message = new MemoryStream();
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                _frames.Enqueue(Encoding.UTF8.GetString(message.ToArray()));
            }
        }
        catch (WebSocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        await _reading.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
    }
}

/// <summary>A local HTTP server receiving webhooks: records each POST, answers with a scripted status.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ReceivedWebhook> _received = Channel.CreateUnbounded<ReceivedWebhook>();
    private readonly ConcurrentQueue<int> _statuses = new();

    private WebhookReceiver()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = _statuses.TryDequeue(out var scripted) ? scripted : 200;
            _received.Writer.TryWrite(new ReceivedWebhook(context.Request.Path + context.Request.QueryString, context.Request.ContentType,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, status, DateTimeOffset.UtcNow));
            context.Response.StatusCode = status;
        });
    }

    public string Url { get; private set; } = "";

    public ChannelReader<ReceivedWebhook> Received => _received.Reader;

    /// <summary>The next requests answer these statuses, in order (then 200).</summary>
    public void AnswerNext(params int[] statuses)
    {
        foreach (var status in statuses)
        {
            _statuses.Enqueue(status);
        }
    }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        await receiver._app.StartAsync();
        receiver.Url = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return receiver;
    }

    public async Task<ReceivedWebhook> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _received.Reader.ReadAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record ReceivedWebhook(string Path, string? ContentType, Dictionary<string, string> Headers, string Body, int AnsweredStatus, DateTimeOffset At);
