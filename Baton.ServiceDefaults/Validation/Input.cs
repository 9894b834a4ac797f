using System.Globalization;
using System.Text;
using Grpc.Core;

namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// Field validation for request handlers: a value that is too long, empty when required, or carries
/// control characters is refused with <see cref="StatusCode.InvalidArgument"/> and a message that
/// names the field and quotes at most a short prefix of what was sent.
/// </summary>
public static class Input
{
    /// <summary>A required single-line value: not blank, at most <paramref name="maxLength"/> characters, no control or bidi-override characters.</summary>
    public static string Require(string? value, string field, int maxLength = Limits.Name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid($"{field} is required");
        }
        return CheckLine(value, field, maxLength);
    }

    /// <summary>An optional single-line value; null or empty passes unchanged.</summary>
    public static string? Optional(string? value, string field, int maxLength = Limits.Name) =>
        string.IsNullOrEmpty(value) ? value : CheckLine(value, field, maxLength);

    /// <summary>Free text (tasks, messages): newlines and tabs allowed, NUL and other C0 controls except ESC refused.</summary>
    public static string? Text(string? value, string field, int maxLength = Limits.Text)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value;
        }
        CheckLength(value, field, maxLength);
        CheckUtf16(value, field);
        foreach (var c in value)
        {
            if (c == '\0' || (char.IsControl(c) && c is not ('\n' or '\r' or '\t' or '\u001b') && c < 0x80))
            {
                throw Invalid($"{field} contains the control character U+{(int)c:X4}");
            }
        }
        return value;
    }

    /// <summary>Rejects a value longer than <paramref name="maxLength"/> characters.</summary>
    public static void CheckLength(string value, string field, int maxLength)
    {
        if (value.Length > maxLength)
        {
            throw Invalid($"{field} is too long ({value.Length.ToString("N0", CultureInfo.InvariantCulture)} characters; at most {maxLength.ToString("N0", CultureInfo.InvariantCulture)}): {Quote(value)}");
        }
    }

    /// <summary>
    /// A short, printable rendering of user input for error messages and log lines: at most
    /// <paramref name="max"/> characters, control and bidi characters escaped, the full length noted when cut.
    /// </summary>
    public static string Quote(string? value, int max = Limits.Quote)
    {
        if (value is null)
        {
            return "null";
        }
        var builder = new StringBuilder(Math.Min(value.Length, max) + 24).Append('"');
        var shown = 0;
        foreach (var c in value)
        {
            if (shown == max)
            {
                break;
            }
            if (char.IsControl(c) || IsBidiControl(c) || char.IsSurrogate(c) || c == '"' || c == '\\')
            {
                builder.Append(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    _ => $"\\u{(int)c:x4}",
                });
            }
            else
            {
                builder.Append(c);
            }
            shown++;
        }
        builder.Append('"');
        if (value.Length > max)
        {
            builder.Append("… (").Append(value.Length.ToString("N0", CultureInfo.InvariantCulture)).Append(" characters)");
        }
        return builder.ToString();
    }

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static string CheckLine(string value, string field, int maxLength)
    {
        CheckLength(value, field, maxLength);
        CheckUtf16(value, field);
        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                throw Invalid($"{field} contains the control character U+{(int)c:X4}: {Quote(value)}");
            }
            if (IsBidiControl(c))
            {
                throw Invalid($"{field} contains the bidirectional control character U+{(int)c:X4}: {Quote(value)}");
            }
        }
        return value;
    }

    private static void CheckUtf16(string value, string field)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                throw Invalid($"{field} contains a lone UTF-16 surrogate (U+{(int)value[i]:X4})");
            }
        }
    }

    /// <summary>Characters that reorder how text is displayed (Trojan Source), refused in names.</summary>
    private static bool IsBidiControl(char c) => c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F' or '\u061C';
}
