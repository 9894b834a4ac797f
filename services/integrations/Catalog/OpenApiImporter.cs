using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Integrations.Configuration;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Baton.Integrations.Catalog;

/// <summary>Turns an OpenAPI document (a file next to the config, or a URL) into operations, read with Microsoft.OpenApi.</summary>
public static partial class OpenApiImporter
{
    public sealed record Result(IReadOnlyList<OperationModel> Operations, string? ServerUrl, string? Error);

    public static async Task<Result> ImportAsync(string location, string configDir, HttpClient http, string connection, CancellationToken cancellationToken)
    {
        var settings = new OpenApiReaderSettings { LoadExternalRefs = false };
        settings.AddYamlReader();
        ReadResult read;
        try
        {
            if (Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                using var response = await http.GetAsync(uri, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    return new Result([], null, $"fetching {location} answered {(int)response.StatusCode}");
                }
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                using var stream = new MemoryStream(bytes);
                read = await OpenApiDocument.LoadAsync(stream, Format(location, response.Content.Headers.ContentType?.MediaType), settings, cancellationToken);
            }
            else
            {
                var path = Path.GetFullPath(location, configDir);
                if (!File.Exists(path))
                {
                    return new Result([], null, $"file \"{path}\" does not exist");
                }
                await using var stream = File.OpenRead(path);
                read = await OpenApiDocument.LoadAsync(stream, Format(path, null), settings, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OpenApiException or TaskCanceledException)
        {
            return new Result([], null, $"cannot read OpenAPI document {location}: {ex.Message}");
        }
        if (read.Document is null)
        {
            var errors = string.Join("; ", read.Diagnostic?.Errors.Take(3).Select(e => $"{e.Pointer} {e.Message}") ?? []);
            return new Result([], null, $"invalid OpenAPI document {location}: {errors}");
        }
        var document = read.Document;
        var operations = new List<OperationModel>();
        foreach (var (path, item) in document.Paths ?? [])
        {
            foreach (var (method, operation) in item.Operations ?? [])
            {
                var httpMethod = method.Method.ToUpperInvariant();
                var id = operation.OperationId is { Length: > 0 } operationId ? Sanitize(operationId) : Sanitize($"{httpMethod.ToLowerInvariant()}{path}");
                var parameters = new List<ParameterModel>();
                foreach (var parameter in (item.Parameters ?? []).Concat(operation.Parameters ?? []))
                {
                    if (parameter.Name is null || parameter.In is not { } where || where == ParameterLocation.Cookie)
                    {
                        continue;
                    }
                    var schema = SchemaJson(parameter.Schema);
                    parameters.RemoveAll(p => p.Name == parameter.Name);
                    parameters.Add(new ParameterModel(parameter.Name, parameter.Name, TypeOf(parameter.Schema), where.ToString().ToLowerInvariant(),
                        parameter.Description ?? "", parameter.Required, parameter.Schema?.Default?.ToJsonString(), schema));
                }
                JsonObject? bodySchema = null;
                if (operation.RequestBody?.Content is { } content && content.TryGetValue("application/json", out var media) && media.Schema is { } body)
                {
                    bodySchema = SchemaJson(body);
                    var required = body.Required ?? new HashSet<string>();
                    foreach (var (propertyName, propertySchema) in body.Properties ?? new Dictionary<string, IOpenApiSchema>())
                    {
                        parameters.Add(new ParameterModel(propertyName, propertyName, TypeOf(propertySchema), "body", propertySchema.Description ?? "",
                            required.Contains(propertyName), propertySchema.Default?.ToJsonString(), SchemaJson(propertySchema)));
                    }
                }
                operations.Add(new OperationModel(id, operation.OperationId ?? id, httpMethod, path, operation.Summary ?? id,
                    operation.Description ?? operation.Summary ?? "", parameters, connection,
                    operation.Tags?.Select(t => t.Name ?? "").Where(t => t.Length > 0).ToList() ?? [], bodySchema));
            }
        }
        return new Result(operations, document.Servers?.FirstOrDefault()?.Url, null);
    }

    private static string? Format(string location, string? mediaType) =>
        mediaType?.Contains("yaml", StringComparison.OrdinalIgnoreCase) == true || location.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || location.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
            ? "yaml"
            : "json";

    private static string TypeOf(IOpenApiSchema? schema)
    {
        var type = schema?.Type;
        if (type is null)
        {
            return "string";
        }
        foreach (var (flag, name) in new[] { (JsonSchemaType.Integer, "integer"), (JsonSchemaType.Number, "number"), (JsonSchemaType.Boolean, "boolean"),
                     (JsonSchemaType.Array, "array"), (JsonSchemaType.Object, "object"), (JsonSchemaType.String, "string") })
        {
            if (type.Value.HasFlag(flag))
            {
                return name;
            }
        }
        return "string";
    }

    private static JsonObject? SchemaJson(IOpenApiSchema? schema)
    {
        if (schema is null)
        {
            return null;
        }
        using var writer = new StringWriter();
        schema.SerializeAsV31(new OpenApiJsonWriter(writer));
        return JsonNode.Parse(writer.ToString()) as JsonObject;
    }

    private static string Sanitize(string value) => UnsafeCharacters().Replace(value, "_").Trim('_');

    [GeneratedRegex(@"[^a-zA-Z0-9._-]+")]
    private static partial Regex UnsafeCharacters();
}
