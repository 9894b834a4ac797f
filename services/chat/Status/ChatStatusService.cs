using Baton.Contracts.Common.V1;
using Baton.Contracts.Chat.V1;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Grpc.Core;

namespace Baton.Chat.Status;

public sealed class ChatStatusService(BatonOptions options) : ChatService.ChatServiceBase
{
    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context) =>
        Task.FromResult(StatusReporter.Describe(options));
}
