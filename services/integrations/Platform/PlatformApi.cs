using Baton.Contracts.Common.V1;
using Baton.Contracts.Integrations.V1;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Integrations.Platform;

/// <summary>
/// The platform routes that exist before any login provider or binding is configured: Baton
/// authenticates with its admin token until the integrations issue adds providers and bindings.
/// </summary>
public sealed class PlatformApi(BatonOptions options) : IntegrationsService.IntegrationsServiceBase
{
    public override Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context) =>
        Task.FromResult(StatusReporter.Describe(options));

    public override Task<AuthInfo> GetAuthInfo(Empty request, ServerCallContext context) =>
        Task.FromResult(new AuthInfo { Provider = "none", DisplayName = "None" });

    public override Task<BindingList> ListBindings(Empty request, ServerCallContext context) =>
        Task.FromResult(new BindingList());
}
