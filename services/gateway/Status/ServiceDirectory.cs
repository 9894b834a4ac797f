using Baton.Contracts.Chat.V1;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Integrations.V1;
using Baton.Contracts.Runs.V1;
using Baton.Contracts.Gateway.V1;
using Grpc.Core;

namespace Baton.Gateway.Status;

/// <summary>Asks every service for its status over gRPC, in parallel, each with a short deadline.</summary>
public sealed class ServiceDirectory(
    RunsService.RunsServiceClient runs,
    ChatService.ChatServiceClient chat,
    IntegrationsService.IntegrationsServiceClient integrations,
    GitService.GitServiceClient git)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    public async Task<IReadOnlyList<ServiceHealth>> DescribeAllAsync(CancellationToken cancellationToken)
    {
        var calls = new (string Name, Func<CallOptions, AsyncUnaryCall<ServiceStatus>> Call)[]
        {
            ("runs", o => runs.GetStatusAsync(new StatusRequest(), o)),
            ("chat", o => chat.GetStatusAsync(new StatusRequest(), o)),
            ("integrations", o => integrations.GetStatusAsync(new StatusRequest(), o)),
            ("git", o => git.GetStatusAsync(new StatusRequest(), o)),
        };
        return await Task.WhenAll(calls.Select(c => DescribeAsync(c.Name, c.Call, cancellationToken)));
    }

    private static async Task<ServiceHealth> DescribeAsync(string name, Func<CallOptions, AsyncUnaryCall<ServiceStatus>> call, CancellationToken cancellationToken)
    {
        try
        {
            var status = await call(new CallOptions(deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken));
            return new ServiceHealth { Name = name, Healthy = true, Status = status };
        }
        catch (RpcException ex)
        {
            return new ServiceHealth { Name = name, Healthy = false, Error = $"{ex.StatusCode}: {ex.Status.Detail}" };
        }
    }
}
