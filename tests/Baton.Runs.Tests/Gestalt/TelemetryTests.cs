using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Baton.ServiceDefaults.Security;
using Baton.Testing;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>The OTLP/HTTP receiver and <c>/api/otel/*</c> through the gateway, fed by the OpenTelemetry .NET SDK's own exporter.</summary>
[Trait("Category", "Redis")]
public sealed class TelemetryTests
{
    private static void Configure(OtlpExporterOptions options, Uri gateway, string signal, string token)
    {
        options.Endpoint = new Uri(gateway, "/v1/" + signal);
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Headers = "Authorization=Bearer " + token;
    }

    private static async Task<JsonArray> GetArrayAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsArray();
    }

    private static HttpContent Body(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    [Fact]
    public async Task SdkExports_AreStoredAndQueryable_JsonToo_WithTheIngestOnlyCredential_AndBadInputIs4xx()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        var gateway = gestalt.System.GatewayUrl;
        var ingest = OtlpIngestToken.Derive(gestalt.System.Orchestrator.InternalSecret);
        var marker = Guid.NewGuid().ToString("N");

        // Traces and metrics from the SDK's exporter, authenticated with the ingest-only token.
        var sourceName = "baton.test." + marker;
        using var source = new ActivitySource(sourceName);
        using (var tracer = Sdk.CreateTracerProviderBuilder().AddSource(sourceName)
            .AddOtlpExporter(o => Configure(o, gateway, "traces", ingest)).Build())
        using (var meterProvider = Sdk.CreateMeterProviderBuilder().AddMeter(sourceName)
            .AddOtlpExporter(o => Configure(o, gateway, "metrics", ingest)).Build())
        {
            using var meter = new Meter(sourceName);
            var counter = meter.CreateCounter<long>("baton.test.requests");
            using (var parent = source.StartActivity("deploy " + marker))
            {
                parent!.SetTag("marker", marker);
                using var child = source.StartActivity("step");
                counter.Add(3, new KeyValuePair<string, object?>("route", "/x"));
            }
            Assert.True(tracer.ForceFlush(30_000), "the SDK exported its spans");
            Assert.True(meterProvider.ForceFlush(30_000), "the SDK exported its metrics");
        }
        var spans = await GetArrayAsync(http, $"/api/otel/traces?query=deploy%20{marker}");
        var span = Assert.Single(spans)!["resourceSpans"]![0]!["scopeSpans"]![0]!["spans"]![0]!;
        Assert.Equal("deploy " + marker, (string?)span["name"]);
        var traceId = (string)span["traceId"]!;
        Assert.Matches("^[0-9a-f]{32}$", traceId);
        Assert.Matches("^[0-9a-f]{16}$", (string)span["spanId"]!);
        var trace = await GetArrayAsync(http, $"/api/otel/traces?trace_id={traceId}");
        Assert.Equal(2, trace.Count);
        Assert.Equal(["deploy " + marker, "step"], trace.Select(r => (string?)r!["resourceSpans"]![0]!["scopeSpans"]![0]!["spans"]![0]!["name"]).Order());
        Assert.Single(await GetArrayAsync(http, $"/api/otel/traces?trace_id={traceId}&span_name=step"));
        Assert.Single(await GetArrayAsync(http, $"/api/otel/traces?trace_id={traceId}&limit=1"));
        Assert.Empty(await GetArrayAsync(http, $"/api/otel/traces?trace_id={traceId}&since=2999-01-01T00:00:00Z"));
        Assert.Equal(2, (await GetArrayAsync(http, $"/api/otel/traces?trace_id={traceId}&since=2020-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")).Count);
        var metrics = await GetArrayAsync(http, "/api/otel/metrics?name=baton.test.requests");
        var metric = metrics[^1]!["resourceMetrics"]![0]!["scopeMetrics"]![0]!["metrics"]![0]!;
        Assert.Equal("baton.test.requests", (string?)metric["name"]);
        Assert.Equal("3", metric["sum"]!["dataPoints"]![0]!["asInt"]!.ToString());

        // OTLP-JSON (hex ids, integer enums), gzip too; the answer uses the request's encoding.
        var jsonTraceId = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
        var json = $$$"""
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-client"}}]},
              "scopeSpans":[{"scope":{"name":"manual"},"spans":[{"traceId":"{{{jsonTraceId}}}","spanId":"0102030405060708","name":"json span",
                "kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",
                "attributes":[{"key":"k","value":{"intValue":"7"}}],"status":{"code":1}}]}]}]}
            """;
        var ingestClient = gestalt.System.CreateClient(authenticated: false);
        ingestClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ingest);
        using (var response = await ingestClient.PostAsync("/v1/traces", Body(Encoding.UTF8.GetBytes(json), "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync()) as JsonObject);
        }
        var stored = Assert.Single(await GetArrayAsync(http, $"/api/otel/traces?trace_id={jsonTraceId}"))!;
        var jsonSpan = stored["resourceSpans"]![0]!["scopeSpans"]![0]!["spans"]![0]!;
        Assert.Equal(jsonTraceId, (string?)jsonSpan["traceId"]);
        Assert.Equal("0102030405060708", (string?)jsonSpan["spanId"]);
        Assert.Equal(2, (int)jsonSpan["kind"]!);
        Assert.Equal("1700000000000000000", (string?)jsonSpan["startTimeUnixNano"]);
        Assert.Equal("json-client", (string?)stored["resourceSpans"]![0]!["resource"]!["attributes"]![0]!["value"]!["stringValue"]);
        var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(json.Replace("json span", "gzip span", StringComparison.Ordinal).Replace(jsonTraceId, new string('a', 32), StringComparison.Ordinal)));
        }
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = Body(gzipped.ToArray(), "application/json") })
        {
            request.Content.Headers.ContentEncoding.Add("gzip");
            using var response = await ingestClient.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Single(await GetArrayAsync(http, $"/api/otel/traces?trace_id={new string('a', 32)}&span_name=gzip%20span"));

        // The ingest token opens the receiver only; no token opens nothing.
        using (var denied = await ingestClient.GetAsync("/api/otel/traces"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        }
        using (var denied = await ingestClient.PostAsync("/api/otel/logs", new StringContent("{\"body\":\"x\"}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        }
        using (var anonymous = gestalt.System.CreateClient(authenticated: false))
        using (var denied = await anonymous.PostAsync("/v1/metrics", Body([], "application/x-protobuf")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        }

        // Bad input is 4xx, never 5xx: garbage protobuf, bad gzip, wrong types, huge bodies, zeros, bad hex ids, bad queries.
        var random = new Random(42);
        var garbage = new byte[4096];
        random.NextBytes(garbage);
        var cases = new (string Path, HttpContent Content, int Expected)[]
        {
            ("/v1/traces", Body(garbage, "application/x-protobuf"), 400),
            ("/v1/metrics", Body(garbage, "application/json"), 400),
            ("/v1/logs", Body(Encoding.UTF8.GetBytes("{\"resourceLogs\":\"nope\"}"), "application/json"), 400),
            ("/v1/traces", Body(Encoding.UTF8.GetBytes(json.Replace(jsonTraceId, "zz-not-hex", StringComparison.Ordinal)), "application/json"), 400),
            ("/v1/traces", Body(Encoding.UTF8.GetBytes(json), "text/plain"), 415),
            ("/v1/traces", Body(new byte[17 * 1024 * 1024], "application/x-protobuf"), 413),
            ("/v1/traces", Body(new byte[2 * 1024 * 1024], "application/x-protobuf"), 400),
        };
        foreach (var (path, content, expected) in cases)
        {
            using var response = await http.PostAsync(path, content);
            Assert.True((int)response.StatusCode == expected, $"{path} {content.Headers.ContentType}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/logs") { Content = Body(garbage, "application/x-protobuf") })
        {
            request.Content.Headers.ContentEncoding.Add("gzip");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        foreach (var query in new[] { "/api/otel/traces?limit=5000", "/api/otel/traces?trace_id=xyz", "/api/otel/metrics?since=yesterday", "/api/otel/traces?limit=abc" })
        {
            using var response = await http.GetAsync(query);
            Assert.True((int)response.StatusCode == 400, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("invalid_request", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
        }
    }

    [Fact]
    public async Task LogRecords_FromTheUiRouteAndFromOtlp_JoinTheLogStream()
    {
        await using var gestalt = await GestaltSystem.StartAsync();
        var http = gestalt.Http;
        var marker = Guid.NewGuid().ToString("N");

        using (var response = await http.PostAsync("/api/otel/logs", new StringContent($$$"""
            {"severity_text":"WARN","severity_number":13,"body":{"stringValue":"ui says {{{marker}}}"},"attributes":{"component":"dashboard"}}
            """, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }
        foreach (var bad in new[] { "{\"severity_text\":\"x\"}", "{\"body\":\"x\",\"severity_number\":99}", "[1,2]", "{\"body\":\"x\",\"body\":\"y\"}", "{\"body\":\"x\",\"nope\":1}" })
        {
            using var response = await http.PostAsync("/api/otel/logs", new StringContent(bad, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{bad}: {(int)response.StatusCode}");
        }

        // The SDK's log exporter, authenticated like every route (here with the admin token).
        using (var loggers = LoggerFactory.Create(builder => builder.AddOpenTelemetry(o =>
        {
            o.IncludeFormattedMessage = true;
            o.AddOtlpExporter(e => Configure(e, gestalt.System.GatewayUrl, "logs", gestalt.System.Token));
        })))
        {
            loggers.CreateLogger("sdk.test").LogError("sdk says {Marker}", marker);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/logs/stream");
        using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await stream.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        JsonNode? ui = null, sdk = null;
        while (ui is null || sdk is null)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token);
            if (frame is null || frame.Data.Length == 0 || !frame.Data.Contains(marker, StringComparison.Ordinal))
            {
                continue;
            }
            var entry = JsonNode.Parse(frame.Data)!;
            if (((string?)entry["message"])!.StartsWith("ui says", StringComparison.Ordinal))
            {
                ui = entry;
            }
            else
            {
                sdk = entry;
            }
        }
        Assert.Equal("Warning", (string?)ui["level"]);
        Assert.Equal("dashboard", (string?)ui["attributes"]!["component"]);
        Assert.Equal("Error", (string?)sdk["level"]);
        Assert.Equal($"sdk says {marker}", (string?)sdk["message"]);
        Assert.Equal("sdk.test", (string?)sdk["category"]);
    }
}
