using System.Text.Json.Nodes;
using Baton.ServiceDefaults.Validation;

namespace Baton.ServiceDefaults.Security;

/// <summary>
/// Credentials in responses (ARCHITECTURE, "Input, secrets and limits"): a stored secret is shown as
/// <see cref="Mask"/>, and a write that sends the mask back keeps the value already stored, so a
/// client can round-trip a document it read without knowing (or erasing) its secrets.
/// </summary>
public static class Secrets
{
    public const string Mask = "********";

    /// <summary>The mask for a value that is set, the empty string for one that is not.</summary>
    public static string MaskValue(string? value) => string.IsNullOrEmpty(value) ? "" : Mask;

    /// <summary>A copy of an object of strings with every value masked (e.g. <c>provider_config.env</c>).</summary>
    public static JsonObject MaskValues(JsonObject values)
    {
        var masked = new JsonObject();
        foreach (var (key, value) in values)
        {
            masked[key] = value is JsonValue v && v.TryGetValue<string>(out var text) ? MaskValue(text) : Mask;
        }
        return masked;
    }

    /// <summary>
    /// The values to store when <paramref name="incoming"/> replaces <paramref name="stored"/>: a value
    /// equal to the mask keeps the stored one; a mask for a key with nothing stored is refused.
    /// </summary>
    public static JsonObject Merge(JsonObject incoming, JsonObject? stored, string field)
    {
        var merged = new JsonObject();
        foreach (var (key, value) in incoming)
        {
            if (value is JsonValue v && v.TryGetValue<string>(out var text) && text == Mask)
            {
                if (stored?[key] is not { } kept)
                {
                    throw Input.Invalid($"{field}.{key} is the mask {Mask} but no value is stored for it; send the real value");
                }
                merged[key] = kept.DeepClone();
                continue;
            }
            merged[key] = value?.DeepClone();
        }
        return merged;
    }

    /// <summary>Whether a configuration key or field name names a credential (password, token, key, secret …).</summary>
    public static bool LooksSecret(string name)
    {
        var lower = name.ToLowerInvariant();
        return lower.Contains("password", StringComparison.Ordinal) || lower.Contains("secret", StringComparison.Ordinal)
            || lower.Contains("token", StringComparison.Ordinal) || lower.Contains("api_key", StringComparison.Ordinal)
            || lower.Contains("apikey", StringComparison.Ordinal) || lower.EndsWith("_key", StringComparison.Ordinal)
            || lower.Contains("credential", StringComparison.Ordinal) || lower.Contains("connectionstring", StringComparison.Ordinal);
    }
}
