using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>
/// A local server standing in for a model provider's API, for driving a real agent CLI in tests: on a
/// free loopback port, with a per-test key, recording every request it received.
/// </summary>
public abstract class FakeModelApi<TRequest> : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<TRequest> _requests = new();

    protected FakeModelApi(string apiKey)
    {
        ApiKey = apiKey;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    public string ApiKey { get; }

    public string Url { get; private set; } = "";

    /// <summary>Every request received so far, in arrival order.</summary>
    public IReadOnlyList<TRequest> Requests => [.. _requests];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected async Task ListenAsync()
    {
        await _app.StartAsync();
        Url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    protected void Record(TRequest request) => _requests.Enqueue(request);

    protected abstract Task HandleAsync(HttpContext context);
}
