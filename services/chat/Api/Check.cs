using Grpc.Core;

namespace Baton.Chat.Api;

/// <summary>Field checks that answer 400/404/409 with a message naming the field and quoting a short prefix of the input.</summary>
public static class Check
{
    public const int Name = 64;
    public const int Line = 1024;
    public const int Text = 256 * 1024;

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static string Require(string? value, string field, int maxLength = Line)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid($"{field} is required");
        }
        return Line1(value, field, maxLength);
    }

    public static string? Optional(string? value, string field, int maxLength = Line) =>
        string.IsNullOrEmpty(value) ? null : Line1(value, field, maxLength);

    /// <summary>Free text: newlines and tabs allowed, other control characters and lone surrogates refused.</summary>
    public static string Text1(string value, string field, int maxLength = Text)
    {
        Length(value, field, maxLength);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0' || (char.IsControl(c) && c is not ('\n' or '\r' or '\t') && c < 0x80))
            {
                throw Invalid($"{field} contains the control character U+{(int)c:X4}");
            }
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw Invalid($"{field} contains an unpaired surrogate");
            }
        }
        return value;
    }

    private static string Line1(string value, string field, int maxLength)
    {
        Length(value, field, maxLength);
        if (value.Any(c => char.IsControl(c) || char.IsSurrogate(c)))
        {
            throw Invalid($"{field} contains control characters: {Quote(value)}");
        }
        return value;
    }

    private static void Length(string value, string field, int maxLength)
    {
        if (value.Length > maxLength)
        {
            throw Invalid($"{field} is too long ({value.Length} characters; at most {maxLength}): {Quote(value)}");
        }
    }

    /// <summary>At most 40 printable characters of user input, for messages and log lines.</summary>
    public static string Quote(string? value)
    {
        if (value is null)
        {
            return "null";
        }
        var shown = new string([.. value.Take(40).Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '?' : c)]);
        return value.Length > 40 ? $"\"{shown}…\" ({value.Length} characters)" : $"\"{shown}\"";
    }
}
