using Baton.ServiceDefaults.Validation;
using Grpc.Core;

namespace Baton.Chat.Api;

/// <summary>The chat service's field checks: the shared <see cref="Input"/> rules, with the chat's own caps.</summary>
public static class Check
{
    /// <summary>Profile names (Clotho: 1–64 characters).</summary>
    public const int Name = 64;
    public const int Line = Limits.Path;
    /// <summary>A user message over the WebSocket (256 KiB: pasted files and logs are common in chats).</summary>
    public const int Text = 256 * 1024;

    public static RpcException Invalid(string message) => Input.Invalid(message);

    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));

    public static string Require(string? value, string field, int maxLength = Line) => Input.Require(value, field, maxLength);

    public static string? Optional(string? value, string field, int maxLength = Line) =>
        string.IsNullOrEmpty(value) ? null : Input.Optional(value, field, maxLength);

    /// <summary>Free text: newlines and tabs allowed, other control characters and lone surrogates refused.</summary>
    public static string Text1(string value, string field, int maxLength = Text) => Input.Text(value, field, maxLength) ?? "";

    public static string Quote(string? value) => Input.Quote(value);
}
