using System.Text.Json;

namespace Baton.Chat.Agent;

/// <summary>A parsed WebSocket client message: the reference's shapes and Clotho's code shapes (NOTES §2.3) as aliases.</summary>
public abstract record ClientMessage
{
    public sealed record UserMessage(string Content, bool Stream) : ClientMessage;

    /// <summary>Per-call verdicts, or <see cref="All"/> for Clotho's one yes/no for the whole batch.</summary>
    public sealed record ToolApproval(IReadOnlyDictionary<string, bool> Verdicts, bool? All) : ClientMessage;

    public sealed record Cancel : ClientMessage;

    public sealed record Invalid(string Message) : ClientMessage;

    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    public static ClientMessage Parse(string json)
    {
        try
        {
            return ParseDocument(json);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to read a string with an unpaired surrogate escape (\ud800).
            return new Invalid("the message contains an invalid string (an unpaired UTF-16 surrogate)");
        }
    }

    private static ClientMessage ParseDocument(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Strict);
        }
        catch (JsonException ex)
        {
            return new Invalid($"the message is not valid JSON: {ex.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                return new Invalid("a message is a JSON object with a string \"type\"");
            }
            var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : (JsonElement?)null;
            switch (typeElement.GetString())
            {
                case "user_message":
                case "run":
                    return ParseUserMessage(root, data);
                case "tool_approval":
                    return ParseApproval(root, data);
                case "cancel":
                case "panic":
                    return new Cancel();
                default:
                    return new Invalid($"unknown message type {Api.Check.Quote(typeElement.GetString())}; expected user_message, tool_approval or cancel");
            }
        }
    }

    private static ClientMessage ParseUserMessage(JsonElement root, JsonElement? data)
    {
        var source = data ?? root;
        string? text = null;
        if (source.TryGetProperty("content", out var content))
        {
            if (content.ValueKind == JsonValueKind.String)
            {
                text = content.GetString();
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                // Content blocks: their text parts.
                text = string.Join("\n", content.EnumerateArray()
                    .Where(b => b.ValueKind == JsonValueKind.Object && b.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "text"
                        && b.TryGetProperty("text", out var tx) && tx.ValueKind == JsonValueKind.String)
                    .Select(b => b.GetProperty("text").GetString()));
            }
            else if (content.ValueKind != JsonValueKind.Null)
            {
                return new Invalid("content must be a string or an array of content blocks");
            }
        }
        if (string.IsNullOrEmpty(text) && source.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
        {
            text = message.GetString();
        }
        if (string.IsNullOrWhiteSpace(text))
        {
            return new Invalid("user_message needs a non-empty \"content\"");
        }
        try
        {
            Api.Check.Text1(text, "content");
        }
        catch (Grpc.Core.RpcException ex)
        {
            return new Invalid(ex.Status.Detail);
        }
        var stream = true;
        if (source.TryGetProperty("stream", out var s))
        {
            if (s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return new Invalid("stream must be a boolean");
            }
            stream = s.GetBoolean();
        }
        return new UserMessage(text, stream);
    }

    private static ClientMessage ParseApproval(JsonElement root, JsonElement? data)
    {
        var source = data ?? root;
        if (!source.TryGetProperty("verdicts", out var verdicts) && data is null && root.TryGetProperty("verdicts", out var top))
        {
            verdicts = top;
        }
        if (verdicts.ValueKind == JsonValueKind.Object)
        {
            var map = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var property in verdicts.EnumerateObject())
            {
                bool? allowed = property.Value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.String => property.Value.GetString() switch
                    {
                        "allow" or "approve" or "approved" or "yes" => true,
                        "deny" or "reject" or "rejected" or "no" or "user_deny" => false,
                        _ => null,
                    },
                    _ => null,
                };
                if (allowed is null)
                {
                    return new Invalid($"verdicts.{Api.Check.Quote(property.Name)} must be \"allow\" or \"deny\"");
                }
                map[property.Name] = allowed.Value;
            }
            return new ToolApproval(map, null);
        }
        if (source.TryGetProperty("approved", out var approved) && approved.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return new ToolApproval(new Dictionary<string, bool>(), approved.GetBoolean());
        }
        return new Invalid("tool_approval needs \"verdicts\": {\"<tool_use_id>\": \"allow\"|\"deny\"} (or data.approved)");
    }
}
