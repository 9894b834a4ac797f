using System.Text.Json.Nodes;
using Baton.Contracts.Integrations.V1;
using Baton.Integrations.Configuration;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Integrations.Catalog;

/// <summary>An operation in gestaltd's catalog shape, and the JSON schema its MCP tool advertises.</summary>
public static class CatalogMapper
{
    public static Operation ToProto(IntegrationModel integration, OperationModel operation)
    {
        var proto = new Operation
        {
            Id = operation.Id,
            ProviderId = integration.Name,
            Method = operation.Method,
            Path = operation.Path,
            Title = operation.Title,
            Description = operation.Description,
            InputSchema = Struct.Parser.ParseJson(InputSchema(operation).ToJsonString()),
            Annotations = new OperationAnnotations
            {
                ReadOnlyHint = operation.ReadOnly,
                IdempotentHint = operation.Method is "GET" or "HEAD" or "PUT" or "DELETE",
                DestructiveHint = operation.Method is "DELETE",
                OpenWorldHint = true,
            },
            ReadOnly = operation.ReadOnly,
            Visible = true,
            Transport = "rest",
        };
        foreach (var parameter in operation.Parameters)
        {
            var p = new OperationParameter
            {
                Name = parameter.Name,
                WireName = parameter.WireName,
                Type = parameter.Type,
                Location = parameter.Location,
                Description = parameter.Description,
                Required = parameter.Required,
            };
            if (parameter.Default is not null)
            {
                p.Default = Value.ForString(parameter.Default);
            }
            proto.Parameters.Add(p);
        }
        proto.Tags.AddRange(operation.Tags);
        return proto;
    }

    /// <summary>A JSON Schema object with one property per parameter; required ones listed.</summary>
    public static JsonObject InputSchema(OperationModel operation)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var parameter in operation.Parameters)
        {
            var schema = parameter.Schema?.DeepClone() as JsonObject ?? new JsonObject { ["type"] = JsonType(parameter.Type) };
            if (parameter.Description.Length > 0 && !schema.ContainsKey("description"))
            {
                schema["description"] = parameter.Description;
            }
            properties[parameter.Name] = schema;
            if (parameter.Required)
            {
                required.Add(parameter.Name);
            }
        }
        properties["_instance"] = new JsonObject { ["type"] = "string", ["description"] = "Which connected instance to use when there are several." };
        var result = new JsonObject { ["type"] = "object", ["properties"] = properties };
        if (required.Count > 0)
        {
            result["required"] = required;
        }
        return result;
    }

    private static string JsonType(string type) => type switch
    {
        "integer" or "int" => "integer",
        "number" or "float" => "number",
        "boolean" or "bool" => "boolean",
        "array" => "array",
        "object" => "object",
        _ => "string",
    };
}
