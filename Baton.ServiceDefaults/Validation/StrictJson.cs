using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// JSON read strictly (ARCHITECTURE, "Input, secrets and limits"): malformed JSON, invalid UTF-8,
/// invalid UTF-16 escapes (lone surrogates), duplicate keys and nesting deeper than 64 are refused
/// with a message saying where, before any handler sees the document.
/// </summary>
public static class StrictJson
{
    public const int MaxDepth = 64;

    /// <summary>Returns null when <paramref name="utf8"/> is one strictly valid JSON value, else what is wrong with it.</summary>
    public static string? Validate(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
        // One set of keys per open object; arrays push null so depths line up.
        var keys = new Stack<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        keys.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.StartArray:
                        keys.Push(null);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        keys.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        // GetString validates the UTF-8 and the escapes (a lone surrogate throws).
                        var name = reader.GetString()!;
                        if (!keys.Peek()!.Add(name))
                        {
                            return $"invalid JSON: duplicate key {Input.Quote(name)} at byte {reader.TokenStartIndex}";
                        }
                        break;
                    case JsonTokenType.String:
                        _ = reader.GetString();
                        break;
                }
            }
            return null;
        }
        catch (JsonException ex)
        {
            return $"invalid JSON at line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}: {FirstSentence(ex.Message)}";
        }
        catch (InvalidOperationException ex)
        {
            // GetString on invalid UTF-8 or an escaped lone surrogate.
            return $"invalid JSON string at byte {reader.TokenStartIndex}: {FirstSentence(ex.Message)}";
        }
    }

    /// <summary>Parses a document that must be strictly valid, or throws InvalidArgument saying why.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8)
    {
        if (Validate(utf8) is { } problem)
        {
            throw Input.Invalid(problem);
        }
        return JsonNode.Parse(utf8);
    }

    public static JsonNode? Parse(string json) => Parse(Encoding.UTF8.GetBytes(json));

    /// <summary>Parses a document that must be a JSON object.</summary>
    public static JsonObject ParseObject(ReadOnlySpan<byte> utf8, string what = "the body") =>
        Parse(utf8) as JsonObject ?? throw Input.Invalid($"{what} must be a JSON object");

    public static JsonObject ParseObject(string json, string what = "the body") => ParseObject(Encoding.UTF8.GetBytes(json), what);

    // The reader's messages end with "LineNumber: 0 | BytePositionInLine: 5." which the caller already reports.
    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd();
    }
}
