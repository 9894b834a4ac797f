using System.Text;
using Baton.Contracts.Gateway.V1;
using Baton.Contracts.Integrations.V1;
using Baton.Gateway.Auth;
using Baton.Gateway.Status;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Gateway.Deployment;

/// <summary>The /api/v2 general API of 003_*, answered from this deployment's real state.</summary>
public sealed class DeploymentApi(
    GatewayOptions options,
    DeploymentIdentity identity,
    DeploymentConfigDocument configDocument,
    ServiceDirectory directory,
    IntegrationsService.IntegrationsServiceClient integrations,
    TimeProvider time,
    ILogger<DeploymentApi> logger) : Contracts.Gateway.V1.Deployment.DeploymentBase
{
    /// <summary>Experiments this build knows and considers safe to turn on.</summary>
    public static readonly string[] SafeExperiments = ["agents", "mcp-server-http", "oauth2"];

    public override Task<Response> GetRoot(Empty request, ServerCallContext context) =>
        Task.FromResult(new Response { Message = "👋" });

    public override Task<BuildInfoResponse> GetBuildInfo(Empty request, ServerCallContext context) =>
        Task.FromResult(new BuildInfoResponse
        {
            Version = "v" + BuildInfo.Version + (BuildInfo.Commit.Length > 0 ? "+" + BuildInfo.Commit[..Math.Min(7, BuildInfo.Commit.Length)] : ""),
            ExternalUrl = options.PublicUrl,
            DashboardUrl = options.PublicUrl,
            DeploymentId = identity.Id,
            AgentApiVersion = "1.0",
            ProvisionerApiVersion = "1.0",
            Telemetry = false,
            WorkspaceProxy = false,
        });

    public override Task<Empty> ReportCspViolation(CspViolation request, ServerCallContext context)
    {
        logger.LogWarning("CSP violation reported: {Report}", request.CspReport?.ToString() ?? "{}");
        return Task.FromResult(new Empty());
    }

    public override Task<HttpBody> GetDeploymentConfig(Empty request, ServerCallContext context) =>
        Task.FromResult(new HttpBody
        {
            ContentType = "application/json",
            Data = ByteString.CopyFrom(configDocument.Render(), Encoding.UTF8),
        });

    public override Task<SshConfigResponse> GetSshConfig(Empty request, ServerCallContext context) =>
        Task.FromResult(new SshConfigResponse { HostnamePrefix = "baton.", HostnameSuffix = "baton" });

    /// <summary>
    /// Baton's runs stand in for workspaces (running, pending = queued, failed, stopped = ended)
    /// and its terminal viewers for reconnecting PTY sessions; Baton has no SSH, JetBrains or
    /// VS Code sessions, and no workspace network traffic or latency, so those stay zero.
    /// </summary>
    public override async Task<DeploymentStats> GetDeploymentStats(Empty request, ServerCallContext context)
    {
        var services = await directory.DescribeAllAsync(context.CancellationToken);
        var now = time.GetUtcNow();
        return new DeploymentStats
        {
            AggregatedFrom = Timestamp.FromDateTimeOffset(BuildInfo.StartedAt),
            CollectedAt = Timestamp.FromDateTimeOffset(now),
            NextUpdateAt = Timestamp.FromDateTimeOffset(now),
            SessionCount = new SessionCount { ReconnectingPty = SystemStatusApi.Counter(services, "terminal_viewers") },
            Workspaces = new WorkspaceStats
            {
                Running = SystemStatusApi.Counter(services, "runs_running"),
                Pending = SystemStatusApi.Counter(services, "runs_queued"),
                Failed = SystemStatusApi.Counter(services, "runs_failed"),
                Stopped = SystemStatusApi.Counter(services, "runs_stopped"),
                ConnectionLatencyMs = new ConnectionLatency(),
            },
        };
    }

    public override Task<ExperimentList> GetExperiments(Empty request, ServerCallContext context) =>
        Task.FromResult(new ExperimentList { Experiments = { options.Experiments } });

    public override Task<ExperimentList> GetAvailableExperiments(Empty request, ServerCallContext context) =>
        Task.FromResult(new ExperimentList { Experiments = { SafeExperiments } });

    /// <summary>Baton does not phone home; it reports the running version as current.</summary>
    public override Task<UpdateCheckResponse> GetUpdateCheck(Empty request, ServerCallContext context) =>
        Task.FromResult(new UpdateCheckResponse { Current = true, Version = "v" + BuildInfo.Version, Url = "" });

    /// <summary>The API token lifetime limit is the integrations service's (server.api_token_ttl), which issues the tokens.</summary>
    public override async Task<TokenConfig> GetTokenConfig(TokenConfigRequest request, ServerCallContext context)
    {
        var caller = context.GetHttpContext().Items[AuthenticationMiddleware.IdentityItem] as CallerIdentity;
        if (request.User != "me" && !string.Equals(request.User, caller?.User, StringComparison.Ordinal))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"user \"{request.User}\" not found"));
        }
        var lifetime = options.MaxTokenLifetime;
        try
        {
            var policy = await integrations.GetTokenPolicyAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: context.CancellationToken);
            lifetime = TimeSpan.FromSeconds(policy.MaxTokenLifetimeSeconds);
        }
        catch (RpcException ex)
        {
            logger.LogWarning("Token policy unavailable from the integrations service ({Status}); reporting the default", ex.StatusCode);
        }
        return new TokenConfig { MaxTokenLifetime = lifetime.Ticks * 100 };
    }
}

/// <summary>A stable id for this deployment, created once in the gateway's data folder.</summary>
public sealed class DeploymentIdentity
{
    public DeploymentIdentity(BatonOptions baton)
    {
        var path = Path.Combine(baton.ServiceDataDir, "deployment-id");
        if (File.Exists(path) && Guid.TryParse(File.ReadAllText(path).Trim(), out var existing))
        {
            Id = existing.ToString();
            return;
        }
        Id = Guid.NewGuid().ToString();
        File.WriteAllText(path, Id);
    }

    public string Id { get; }
}
