using System.Text;
using System.Text.Json.Nodes;
using Baton.Contracts.Runs.V1;
using Baton.ServiceDefaults.Hosting;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Runs.Flows;

/// <summary><c>/api/flow/*</c> with the reference's endpoint policy: JSON config, YAML-only import, YAML export with download headers.</summary>
public sealed class FlowsApi(FlowStore store, ILogger<FlowsApi> logger) : FlowsService.FlowsServiceBase
{
    public const int MaxBody = 1024 * 1024;

    private static readonly string[] YamlMediaTypes = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"];
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public override Task<HttpBody> ListFlowActivities(Empty request, ServerCallContext context) =>
        Task.FromResult(Json(FlowCatalog.ActivitiesJson()));

    public override Task<HttpBody> ListFlowEventTypes(Empty request, ServerCallContext context) =>
        Task.FromResult(Json(new JsonObject { ["event_types"] = new JsonArray([.. FlowCatalog.EventTypes.Select(t => (JsonNode)t)]) }));

    public override Task<HttpBody> GetFlowConfig(Empty request, ServerCallContext context) => Task.FromResult(ConfigJson(store.Current));

    public override async Task<HttpBody> PutFlowConfig(HttpBody request, ServerCallContext context)
    {
        var mediaType = MediaType(request.ContentType);
        if (mediaType.Length > 0 && mediaType != "application/json")
        {
            throw Fail(context, 415, $"PUT /api/flow/config takes application/json, not {FlowConfigSchema.Quote(mediaType)}; use POST /api/flow/config/import for YAML");
        }
        var config = Parse(context, () => FlowConfigSchema.ParseJson(Text(context, request)));
        return ConfigJson(await SaveAsync(context, config));
    }

    public override Task<HttpBody> ExportFlowConfig(Empty request, ServerCallContext context)
    {
        var bundle = new JsonObject
        {
            ["version"] = 1,
            ["flows"] = new JsonArray([.. store.Current.Flows.Select(f => (JsonNode)FlowConfigSchema.FlowJson(f))]),
        };
        context.GetHttpContext().Response.Headers.ContentDisposition = "attachment; filename=\"flows.yaml\"";
        return Task.FromResult(new HttpBody { ContentType = "application/yaml; charset=utf-8", Data = ByteString.CopyFromUtf8(YamlTree.Write(bundle)) });
    }

    public override async Task<HttpBody> ImportFlowConfig(HttpBody request, ServerCallContext context)
    {
        var mediaType = MediaType(request.ContentType);
        if (!YamlMediaTypes.Contains(mediaType))
        {
            throw Fail(context, 415, mediaType.Length == 0
                ? "Content-Type is required: application/yaml, application/x-yaml, text/yaml or text/x-yaml"
                : $"unsupported Content-Type {FlowConfigSchema.Quote(mediaType)}: the import takes YAML (application/yaml, application/x-yaml, text/yaml, text/x-yaml)");
        }
        var config = Parse(context, () => FlowConfigSchema.ParseBundle(YamlTree.Parse(Text(context, request))));
        return ConfigJson(await SaveAsync(context, config));
    }

    private async Task<FlowConfig> SaveAsync(ServerCallContext context, FlowConfig config)
    {
        try
        {
            return await store.SaveAsync(config, context.CancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogError(ex, "Saving the flow configuration to {Directory} failed", store.Directory);
            throw new RpcException(new Status(StatusCode.Internal, $"saving the flow configuration failed: {ex.Message}"));
        }
    }

    private static FlowConfig Parse(ServerCallContext context, Func<FlowConfig> parse)
    {
        try
        {
            return parse();
        }
        catch (FlowConfigException ex)
        {
            throw Fail(context, ex.Status, ex.Message);
        }
    }

    private static string Text(ServerCallContext context, HttpBody request)
    {
        if (request.Data.Length > MaxBody)
        {
            throw Fail(context, 413, $"the flow configuration is larger than {MaxBody / 1024} KiB");
        }
        if (request.Data.IsEmpty)
        {
            throw Fail(context, 400, "the request body is empty");
        }
        try
        {
            return StrictUtf8.GetString(request.Data.Span);
        }
        catch (DecoderFallbackException)
        {
            throw Fail(context, 400, "the request body is not valid UTF-8");
        }
    }

    private HttpBody ConfigJson(FlowConfig config)
    {
        var json = FlowConfigSchema.ToJson(config);
        json["storage_path"] = store.Directory;
        return Json(json);
    }

    private static RpcException Fail(ServerCallContext context, int status, string message)
    {
        context.SetHttpStatus(status);
        var code = status switch
        {
            409 => StatusCode.AlreadyExists,
            413 => StatusCode.ResourceExhausted,
            _ => StatusCode.InvalidArgument,
        };
        return new RpcException(new Status(code, message));
    }

    private static string MediaType(string? contentType) =>
        (contentType ?? "").Split(';', 2)[0].Trim().ToLowerInvariant();

    private static HttpBody Json(JsonNode node) => new() { ContentType = "application/json; charset=utf-8", Data = ByteString.CopyFromUtf8(node.ToJsonString()) };
}
