using Baton.Contracts.Common.V1;
using Baton.Contracts.Gateway.V1;
using Baton.Contracts.Runs.V1;
using Baton.Testing;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Foundation.Tests.EndToEnd;

[Collection(SystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class GrpcThroughGatewayTests(SystemFixture fixture)
{
    private BatonSystem Baton => fixture.System;

    [Fact]
    public async Task GatewayOwnService_AnswersOverHttp2()
    {
        using var channel = Baton.CreateGrpcChannel();
        var info = await new Deployment.DeploymentClient(channel).GetBuildInfoAsync(new Empty());
        Assert.StartsWith("v0.1.0", info.Version);
    }

    [Fact]
    public async Task ServiceCalls_AreProxiedToTheOwningService()
    {
        using var channel = Baton.CreateGrpcChannel();
        var status = await new RunsService.RunsServiceClient(channel).GetStatusAsync(new StatusRequest());
        Assert.Equal("runs", status.Service);
        Assert.Equal(Path.Combine(Baton.DataDir, "runs"), status.DataDir);
    }

    [Fact]
    public async Task WithoutToken_CallsFailUnauthenticated()
    {
        using var channel = Baton.CreateGrpcChannel(authenticated: false);
        var error = await Assert.ThrowsAsync<RpcException>(() => new RunsService.RunsServiceClient(channel).GetStatusAsync(new StatusRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task LogStream_DeliversRecordsFromTheServicesLive()
    {
        using var channel = Baton.CreateGrpcChannel();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = new Logs.LogsClient(channel).StreamLogs(new StreamLogsRequest(), cancellationToken: timeout.Token);
        var marker = Guid.NewGuid().ToString("N");
        using var client = Baton.CreateClient();
        // The stream is live once the call is open; repeat until the record shows up.
        await using var triggering = BackgroundLoop.Repeat(async ct =>
        {
            using var _ = await client.PostAsync("/api/v2/csp/reports", new StringContent($$$"""{"csp-report":{"m":"{{{marker}}}"}}""", System.Text.Encoding.UTF8, "application/json"), ct);
        }, TimeSpan.FromMilliseconds(200), timeout.Token);
        LogRecord? found = null;
        while (found is null && await triggering.WatchAsync(call.ResponseStream.MoveNext(timeout.Token)))
        {
            if (call.ResponseStream.Current.Message.Contains(marker, StringComparison.Ordinal))
            {
                found = call.ResponseStream.Current;
            }
        }
        await timeout.CancelAsync();
        Assert.NotNull(found);
        Assert.Equal("gateway", found.Service);
        Assert.Equal("Warning", found.Level);
        Assert.True(found.Id > 0);
    }
}
