using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.ServiceDefaults.Validation;

/// <summary>
/// Turns a library's exception for bad input into a status, for one service (for example
/// LibGit2Sharp's "invalid spec" into InvalidArgument). Return null for exceptions that are not input errors.
/// </summary>
public delegate Status? ExceptionStatusMapper(Exception exception);

/// <summary>
/// The one place per service where exceptions that mean "bad input" become 400/404/409 instead of
/// escaping as a 500: JSON and protobuf parse errors by default, plus the service's own mappers.
/// </summary>
public sealed class InputErrorInterceptor(IEnumerable<ExceptionStatusMapper> mappers) : Interceptor
{
    private readonly ExceptionStatusMapper[] _mappers = [.. mappers, Default];

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (Map(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (Map(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (Map(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex) when (Map(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    private Status? Map(Exception exception)
    {
        if (exception is RpcException or OperationCanceledException)
        {
            return null;
        }
        foreach (var mapper in _mappers)
        {
            if (mapper(exception) is { } status)
            {
                return status;
            }
        }
        return null;
    }

    private static Status? Default(Exception exception) => exception switch
    {
        System.Text.Json.JsonException json => new Status(StatusCode.InvalidArgument, $"invalid JSON: {json.Message}"),
        Google.Protobuf.InvalidJsonException json => new Status(StatusCode.InvalidArgument, $"invalid JSON: {json.Message}"),
        Google.Protobuf.InvalidProtocolBufferException proto => new Status(StatusCode.InvalidArgument, $"invalid message: {proto.Message}"),
        _ => null,
    };
}

public static class BatonGrpcExtensions
{
    /// <summary>gRPC with JSON transcoding and the input-error interceptor: how every Baton service serves its API.</summary>
    public static IGrpcServerBuilder AddBatonGrpc(this IServiceCollection services, params ExceptionStatusMapper[] mappers)
    {
        foreach (var mapper in mappers)
        {
            services.AddSingleton(mapper);
        }
        var grpc = services.AddGrpc(options => options.Interceptors.Add<InputErrorInterceptor>());
        grpc.AddJsonTranscoding();
        return grpc;
    }
}
