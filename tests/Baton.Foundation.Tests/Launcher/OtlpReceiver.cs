using System.Collections.Concurrent;
using Baton.AppHost.Orchestration;
using Baton.Foundation.Tests.Launcher.Otlp;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Foundation.Tests.Launcher;

public sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind);

/// <summary>An OTLP/gRPC trace receiver on loopback: where the AppHost test points the services' exporters.</summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans;

    private OtlpReceiver(WebApplication app, ConcurrentQueue<ReceivedSpan> spans, string url)
    {
        _app = app;
        _spans = spans;
        Url = url;
    }

    public string Url { get; }
    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var port = Ports.Free();
        var spans = new ConcurrentQueue<ReceivedSpan>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(spans);
        var app = builder.Build();
        app.MapGrpcService<TraceReceiver>();
        await app.StartAsync();
        return new OtlpReceiver(app, spans, $"http://localhost:{port}");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private sealed class TraceReceiver(ConcurrentQueue<ReceivedSpan> spans) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            foreach (var resource in request.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                {
                    spans.Enqueue(new ReceivedSpan(service, Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId), span.Name, span.Kind));
                }
            }
            return Task.FromResult(new ExportTraceServiceResponse());
        }

        private static string Hex(Google.Protobuf.ByteString bytes) => Convert.ToHexString(bytes.Span).ToLowerInvariant();
    }
}
