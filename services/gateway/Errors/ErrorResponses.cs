using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Baton.Gateway.Errors;

/// <summary>The one place that renders an error in the shape of the route's own reference.</summary>
public static class ErrorResponses
{
    // Messages quote paths and headers; keep them readable instead of \u003C-escaped.
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Messages may quote input; however a service phrased one, the answer stays short.</summary>
    private const int MaxMessageLength = 1024;

    public static async Task WriteAsync(HttpContext context, int statusCode, string message, string? detail = null)
    {
        if (message.Length > MaxMessageLength)
        {
            message = string.Concat(message.AsSpan(0, MaxMessageLength), "… (message cut)");
        }
        var response = context.Response;
        response.StatusCode = statusCode;
        response.Headers.ContentLength = null;
        response.Headers.CacheControl = "no-store, must-revalidate";
        response.Headers.XContentTypeOptions = "nosniff";
        var family = RouteFamilies.Classify(context.Request.Path);
        if (family is RouteFamily.Runs or RouteFamily.Plain)
        {
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync(message, context.RequestAborted);
            return;
        }
        response.ContentType = "application/json; charset=utf-8";
        await response.WriteAsync(Render(family, statusCode, message, detail).ToJsonString(Json), context.RequestAborted);
    }

    public static JsonObject Render(RouteFamily family, int statusCode, string message, string? detail) => family switch
    {
        RouteFamily.Chat => new JsonObject { ["detail"] = message },
        RouteFamily.Integrations => new JsonObject { ["error"] = message },
        RouteFamily.Deployment => new JsonObject { ["message"] = message, ["detail"] = detail ?? "", ["validations"] = new JsonArray() },
        _ => new JsonObject { ["message"] = message, ["error"] = message, ["code"] = CodeFor(statusCode) },
    };

    public static string CodeFor(int statusCode) => statusCode switch
    {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "service_unavailable",
        >= 500 => "internal_error",
        _ => "invalid_request",
    };

    /// <summary>Reads the message out of a transcoded gRPC error (<c>{"code","message","details"}</c>), if that is what the body is.</summary>
    public static bool TryReadGrpcStatus(ReadOnlySpan<byte> body, out string message)
    {
        message = "";
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number
                && root.TryGetProperty("message", out var text) && text.ValueKind == JsonValueKind.String)
            {
                message = text.GetString() ?? "";
                return true;
            }
        }
        catch (JsonException)
        {
        }
        return false;
    }
}
