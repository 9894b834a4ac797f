using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;

namespace Baton.Runs.Telemetry;

/// <summary>Input the receiver cannot take: 400, 413 or 415 with a message.</summary>
public sealed class OtlpInputException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

public enum OtlpEncoding
{
    Protobuf,
    Json,
}

/// <summary>
/// OTLP/HTTP bodies (https://opentelemetry.io/docs/specs/otlp/#otlphttp): binary protobuf or
/// OTLP-JSON, optionally gzip. OTLP-JSON differs from proto3 JSON in that trace and span ids are
/// hex, not base64; enums are integers and 64-bit integers are strings on output.
/// </summary>
public static class OtlpCodec
{
    /// <summary>The route family's cap (<see cref="Baton.ServiceDefaults.Validation.RequestBodyLimits.Telemetry"/>), also for the decompressed body.</summary>
    public const int MaxBody = (int)Baton.ServiceDefaults.Validation.RequestBodyLimits.Telemetry;

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true).WithRecursionLimit(64));
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatEnumsAsIntegers(true));
    private static readonly HashSet<string> IdFields = new(StringComparer.Ordinal) { "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id" };

    public static OtlpEncoding EncodingOf(string? contentType)
    {
        var mediaType = (contentType ?? "").Split(';', 2)[0].Trim().ToLowerInvariant();
        return mediaType switch
        {
            "application/x-protobuf" or "application/protobuf" => OtlpEncoding.Protobuf,
            "application/json" => OtlpEncoding.Json,
            "" => throw new OtlpInputException(415, "Content-Type is required: application/x-protobuf or application/json"),
            _ => throw new OtlpInputException(415, $"unsupported Content-Type '{Cut(mediaType)}': application/x-protobuf or application/json"),
        };
    }

    public static T Decode<T>(ReadOnlySpan<byte> body, string? contentType, string? contentEncoding, MessageParser<T> parser) where T : IMessage<T>, new()
    {
        var encoding = EncodingOf(contentType);
        var bytes = Decompress(body, contentEncoding);
        if (encoding == OtlpEncoding.Protobuf)
        {
            try
            {
                return parser.ParseFrom(bytes);
            }
            catch (InvalidProtocolBufferException ex)
            {
                throw new OtlpInputException(400, $"the body is not a valid {typeof(T).Name} protobuf message: {ex.Message}");
            }
        }
        JsonNode? tree;
        try
        {
            tree = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw new OtlpInputException(400, $"invalid JSON: {ex.Message}");
        }
        if (tree is not JsonObject)
        {
            throw new OtlpInputException(400, $"the body must be a JSON object ({typeof(T).Name})");
        }
        RewriteIds(tree, HexToBase64);
        try
        {
            return Parser.Parse<T>(tree.ToJsonString());
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException)
        {
            throw new OtlpInputException(400, $"the body is not a valid OTLP-JSON {typeof(T).Name}: {ex.Message}");
        }
    }

    public static byte[] Encode(IMessage message, OtlpEncoding encoding) =>
        encoding == OtlpEncoding.Protobuf ? message.ToByteArray() : System.Text.Encoding.UTF8.GetBytes(ToOtlpJson(message).ToJsonString());

    /// <summary>A message as OTLP-JSON: camelCase names, integer enums, hex ids.</summary>
    public static JsonNode ToOtlpJson(IMessage message)
    {
        var tree = JsonNode.Parse(Formatter.Format(message))!;
        RewriteIds(tree, Base64ToHex);
        return tree;
    }

    private static byte[] Decompress(ReadOnlySpan<byte> body, string? contentEncoding)
    {
        var encoding = (contentEncoding ?? "").Trim().ToLowerInvariant();
        if (encoding is "" or "identity")
        {
            return body.ToArray();
        }
        if (encoding != "gzip")
        {
            throw new OtlpInputException(415, $"unsupported Content-Encoding '{Cut(encoding)}': gzip or none");
        }
        try
        {
            using var input = new GZipStream(new MemoryStream(body.ToArray()), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                if (output.Length > MaxBody)
                {
                    throw new OtlpInputException(413, $"the decompressed body is larger than {MaxBody / (1024 * 1024)} MiB");
                }
            }
            return output.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new OtlpInputException(400, $"the body is not valid gzip: {ex.Message}");
        }
    }

    private static void RewriteIds(JsonNode? node, Func<string, string?> rewrite)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToList())
                {
                    var value = obj[key];
                    if (IdFields.Contains(key) && value is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        obj[key] = rewrite(text) ?? text;
                    }
                    else
                    {
                        RewriteIds(value, rewrite);
                    }
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    RewriteIds(item, rewrite);
                }
                break;
        }
    }

    private static string? HexToBase64(string hex)
    {
        if (hex.Length == 0)
        {
            return hex;
        }
        try
        {
            return Convert.ToBase64String(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            throw new OtlpInputException(400, $"'{Cut(hex)}' is not a hex trace or span id");
        }
    }

    private static string? Base64ToHex(string base64)
    {
        try
        {
            return Convert.ToHexString(Convert.FromBase64String(base64)).ToLowerInvariant();
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Cut(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
