using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Baton.AppHost.Orchestration;

/// <summary>The upstream API the benchmark invokes: one small JSON answer, checked for its API key.</summary>
internal sealed class Upstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private Upstream(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public static async Task<Upstream> StartAsync()
    {
        var baseUrl = new Uri($"http://127.0.0.1:{Ports.Free()}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(baseUrl.ToString().TrimEnd('/'));
        var app = builder.Build();
        app.MapGet("/echo", (HttpContext http) => http.Request.Headers["X-Api-Key"] == "bench-key"
            ? Results.Json(new { ok = true, items = new[] { 1, 2, 3 } })
            : Results.Unauthorized());
        await app.StartAsync();
        return new Upstream(app, baseUrl);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
