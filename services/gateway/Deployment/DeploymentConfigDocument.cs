using System.Text.Json.Nodes;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Security;

namespace Baton.Gateway.Deployment;

/// <summary>
/// This deployment's effective configuration in the shape of codersdk.DeploymentConfig:
/// <c>config</c> holds the values Baton has, <c>options</c> describes each setting with its
/// source. The value of every option annotated secret is masked, whatever it holds.
/// </summary>
public sealed class DeploymentConfigDocument(GatewayOptions gateway, BatonOptions baton, IConfiguration configuration)
{

    public string Render()
    {
        var accessUrl = new Uri(gateway.PublicUrl);
        var config = new JsonObject
        {
            ["access_url"] = UrlStruct(accessUrl),
            ["address"] = new JsonObject { ["host"] = accessUrl.Host, ["port"] = accessUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            ["http_address"] = accessUrl.Authority,
            ["cache_directory"] = baton.DataDir,
            ["experiments"] = new JsonArray(gateway.Experiments.Select(e => (JsonNode)e).ToArray()),
            ["update_check"] = false,
            ["telemetry"] = new JsonObject { ["enable"] = false, ["trace"] = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) },
            ["session_lifetime"] = new JsonObject { ["max_token_lifetime"] = gateway.MaxTokenLifetime.Ticks * 100 },
            ["disable_password_auth"] = true,
            ["browser_only"] = false,
            ["verbose"] = false,
        };

        var options = new JsonArray
        {
            Option("Admin Token", "BATON_TOKEN", "The admin bearer token; GESTALT_TOKEN is accepted as an alias.",
                gateway.AdminToken ?? "", gateway.AdminToken is null ? "default" : "env", secret: true),
            Option("Data Directory", "BATON_DATA_DIR", "Where every service keeps its SQLite database and files.", baton.DataDir, Source("BATON_DATA_DIR")),
            Option("Working Directory", "BATON_WORKDIR", "The repository /api/git/log and /api/status describe.", gateway.WorkDir, Source("BATON_WORKDIR")),
            Option("HTTP Address", "Kestrel__Endpoints__Http__Url", "REST, WebSocket and SSE listener.", gateway.PublicUrl, "env"),
            Option("gRPC Address", "Kestrel__Endpoints__Grpc__Url", "gRPC listener (cleartext HTTP/2).", gateway.GrpcUrl, "env"),
            Option("Redis", "ConnectionStrings__redis", "Event bus connection (StackExchange.Redis configuration string).",
                configuration.GetConnectionString("redis") ?? "", Source("ConnectionStrings:redis"), secret: true),
            Option("Experiments", "BATON_EXPERIMENTS", "Comma-separated experiments to enable.", string.Join(',', gateway.Experiments), Source("BATON_EXPERIMENTS")),
            Option("OTLP Endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "OpenTelemetry export; off when empty.",
                configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "", Source("OTEL_EXPORTER_OTLP_ENDPOINT")),
        };
        foreach (var (service, addresses) in gateway.Services)
        {
            options.Add(Option($"{service} service", $"services__{service}__grpc__0", $"Where the {service} service's gRPC endpoint is.", addresses.Grpc, "env"));
        }
        return new JsonObject { ["config"] = config, ["options"] = options }.ToJsonString();
    }

    private string Source(string key) => string.IsNullOrEmpty(configuration[key]) ? "default" : "env";

    private static JsonObject Option(string name, string env, string description, string value, string source, bool secret = false) => new()
    {
        ["name"] = name,
        ["description"] = description,
        ["env"] = env,
        ["flag"] = "",
        ["yaml"] = "",
        ["default"] = "",
        ["value"] = secret ? Secrets.MaskValue(value) : value,
        ["value_source"] = source,
        ["hidden"] = false,
        ["required"] = false,
        ["annotations"] = secret ? new JsonObject { ["secret"] = "true" } : new JsonObject(),
    };

    /// <summary>Go's url.URL as encoding/json writes it.</summary>
    private static JsonObject UrlStruct(Uri uri) => new()
    {
        ["scheme"] = uri.Scheme,
        ["opaque"] = "",
        ["user"] = null,
        ["host"] = uri.Authority,
        ["path"] = uri.AbsolutePath == "/" ? "" : uri.AbsolutePath,
        ["rawPath"] = "",
        ["omitHost"] = false,
        ["forceQuery"] = false,
        ["rawQuery"] = uri.Query.TrimStart('?'),
        ["fragment"] = "",
        ["rawFragment"] = "",
    };
}
