using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// The request gate every service runs before JSON transcoding (ARCHITECTURE, "Input, secrets and
/// limits"): a body over its route family's cap is refused with 413, and a JSON body is read in full
/// into memory and validated strictly (<see cref="StrictJson"/>) so no handler ever sees duplicate keys, lone
/// surrogates or broken UTF-8. Refusals are transcoding-shaped errors (<c>{"code","message"}</c>),
/// which the gateway renders in the route family's own shape. Native gRPC calls and bodies of other
/// media types (raw terminal input, YAML, protobuf) pass through; only their size is capped.
/// </summary>
public sealed class RequestValidationMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            || HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            await next(context);
            return;
        }
        var limit = RequestBodyLimits.For(request.Path);
        if (request.ContentLength > limit)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, TooLarge(limit));
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }
        if (!IsJson(request.ContentType))
        {
            await next(context);
            return;
        }

        byte[] body;
        try
        {
            body = await ReadCappedAsync(request.Body, limit, context.RequestAborted);
        }
        catch (BadHttpRequestException ex)
        {
            await RefuseAsync(context, ex.StatusCode, ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(limit) : "the request body could not be read");
            return;
        }
        if (body.Length > limit)
        {
            await RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, TooLarge(limit));
            return;
        }
        if (body.Length > 0 && StrictJson.Validate(body) is { } problem)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, problem);
            return;
        }
        // The handler reads the validated copy; the pipe view of the body follows a replaced stream.
        request.Body = new MemoryStream(body, writable: false);
        await next(context);
    }

    /// <summary>The whole body, or <paramref name="limit"/> + 1 bytes of it when it is larger (the caller refuses it).</summary>
    private static async Task<byte[]> ReadCappedAsync(Stream source, long limit, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await source.ReadAsync(chunk, cancellationToken)) > 0)
            {
                copy.Write(chunk, 0, read);
                if (copy.Length > limit)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return copy.ToArray();
    }

    /// <summary>JSON media types, and a body sent without a media type (transcoding reads it as JSON).</summary>
    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return true;
        }
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return false;
        }
        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/json", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static string TooLarge(long limit) =>
        $"the request body is too large: this route accepts at most {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes";

    private static async Task RefuseAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        var grpcCode = status == StatusCodes.Status413PayloadTooLarge ? 8 /* ResourceExhausted */ : 3 /* InvalidArgument */;
        await response.WriteAsync(JsonSerializer.Serialize(new { code = grpcCode, message, details = Array.Empty<object>() }), context.RequestAborted);
    }
}

public static class RequestValidationExtensions
{
    /// <summary>Body caps and strict JSON for every request (see <see cref="RequestValidationMiddleware"/>).</summary>
    public static IApplicationBuilder UseRequestValidation(this IApplicationBuilder app) => app.UseMiddleware<RequestValidationMiddleware>();
}
