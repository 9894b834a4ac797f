using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Baton.ServiceDefaults.Hosting;

/// <summary>
/// JSON transcoding answers 200, or a status derived from the gRPC code. A method whose REST
/// contract documents another code (201, 204, 415 …) calls <see cref="SetHttpStatus"/>, before
/// returning or throwing; the middleware applies it to transcoded calls only (native gRPC calls
/// are unaffected) and suppresses the body for 204.
/// </summary>
public static class HttpStatusOverride
{
    private static readonly object Key = new();

    public static void SetHttpStatus(this ServerCallContext context, int statusCode)
    {
        var http = context.GetHttpContext();
        http.Items[Key] = statusCode;
    }

    public static IApplicationBuilder UseHttpStatusOverride(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            await next(context);
            return;
        }
        var original = context.Response.Body;
        context.Response.Body = new NoContentAwareStream(original, () => context.Items.TryGetValue(Key, out var s) && s is 204);
        context.Response.OnStarting(() =>
        {
            if (context.Items.TryGetValue(Key, out var status) && status is int code)
            {
                context.Response.StatusCode = code;
                if (code == StatusCodes.Status204NoContent)
                {
                    context.Response.ContentType = null;
                    context.Response.Headers.ContentLength = null;
                }
            }
            return Task.CompletedTask;
        });
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }
    });

    private sealed class NoContentAwareStream(Stream inner, Func<bool> isNoContent) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (!isNoContent())
            {
                inner.Write(buffer, offset, count);
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            isNoContent() ? ValueTask.CompletedTask : inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            isNoContent() ? Task.CompletedTask : inner.WriteAsync(buffer, offset, count, cancellationToken);
    }
}
