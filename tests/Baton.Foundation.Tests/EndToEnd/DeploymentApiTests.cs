using System.Net;
using System.Text;
using System.Text.Json;
using Baton.Testing;

namespace Baton.Foundation.Tests.EndToEnd;

[Collection(SystemCollection.Name)]
[Trait("Category", "Redis")]
public sealed class DeploymentApiTests(SystemFixture fixture)
{
    private BatonSystem Baton => fixture.System;

    [Fact]
    public async Task Root_AnswersACoderResponse()
    {
        var root = await GetJson("/api/v2/", authenticated: false);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("message").GetString()));
        Assert.Equal("", root.GetProperty("detail").GetString());
        Assert.Equal(0, root.GetProperty("validations").GetArrayLength());
    }

    [Fact]
    public async Task BuildInfo_ReportsThisBuildAndAStableDeploymentId()
    {
        var info = await GetJson("/api/v2/buildinfo", authenticated: false);
        string[] fields = ["agent_api_version", "dashboard_url", "deployment_id", "external_url", "provisioner_api_version",
            "telemetry", "upgrade_message", "version", "webpush_public_key", "workspace_proxy"];
        Assert.Equal(fields.Order(), info.EnumerateObject().Select(p => p.Name).Order());
        Assert.StartsWith("v0.1.0", info.GetProperty("version").GetString());
        Assert.Equal(Baton.GatewayUrl.ToString().TrimEnd('/'), info.GetProperty("external_url").GetString());
        Assert.False(info.GetProperty("telemetry").GetBoolean());
        var id = info.GetProperty("deployment_id").GetString();
        Assert.True(Guid.TryParse(id, out _));
        Assert.Equal(id, (await GetJson("/api/v2/buildinfo", authenticated: false)).GetProperty("deployment_id").GetString());
    }

    [Fact]
    public async Task DeploymentConfig_IsTheEffectiveConfiguration_WithSecretsRedacted()
    {
        using var client = Baton.CreateClient();
        var text = await client.GetStringAsync("/api/v2/deployment/config");
        Assert.DoesNotContain(Baton.Token, text);
        var document = JsonDocument.Parse(text).RootElement;
        var config = document.GetProperty("config");
        Assert.Equal(Baton.GatewayUrl.Authority, config.GetProperty("access_url").GetProperty("host").GetString());
        Assert.Equal("http", config.GetProperty("access_url").GetProperty("scheme").GetString());
        Assert.Equal(["agents"], config.GetProperty("experiments").EnumerateArray().Select(e => e.GetString()));
        var options = document.GetProperty("options").EnumerateArray().ToList();
        var token = options.Single(o => o.GetProperty("env").GetString() == "BATON_TOKEN");
        Assert.Equal("********", token.GetProperty("value").GetString());
        var dataDir = options.Single(o => o.GetProperty("env").GetString() == "BATON_DATA_DIR");
        Assert.Equal(Baton.DataDir, dataDir.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Ssh_Stats_Experiments_UpdateCheck_HaveTheReferenceFields()
    {
        var ssh = await GetJson("/api/v2/deployment/ssh");
        Assert.Equal(["hostname_prefix", "hostname_suffix", "ssh_config_options"], ssh.EnumerateObject().Select(p => p.Name).Order());

        var stats = await GetJson("/api/v2/deployment/stats");
        Assert.Equal(["aggregated_from", "collected_at", "next_update_at", "session_count", "workspaces"], stats.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["jetbrains", "reconnecting_pty", "ssh", "vscode"], stats.GetProperty("session_count").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["building", "connection_latency_ms", "failed", "pending", "running", "rx_bytes", "stopped", "tx_bytes"],
            stats.GetProperty("workspaces").EnumerateObject().Select(p => p.Name).Order());
        Assert.True(DateTimeOffset.TryParse(stats.GetProperty("collected_at").GetString(), out _));

        Assert.Equal(["agents"], (await GetJson("/api/v2/experiments")).EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("agents", (await GetJson("/api/v2/experiments/available")).EnumerateArray().Select(e => e.GetString()));

        var update = await GetJson("/api/v2/updatecheck", authenticated: false);
        Assert.True(update.GetProperty("current").GetBoolean());
        Assert.StartsWith("v0.1.0", update.GetProperty("version").GetString());
    }

    [Fact]
    public async Task TokenConfig_ForMe_IsThirtyDaysInNanoseconds_AndUnknownUsersAre404()
    {
        var config = await GetJson("/api/v2/users/me/keys/tokens/tokenconfig");
        Assert.Equal(30L * 24 * 3600 * 1_000_000_000, config.GetProperty("max_token_lifetime").GetInt64());

        using var client = Baton.CreateClient();
        using var response = await client.GetAsync("/api/v2/users/somebody-else/keys/tokens/tokenconfig");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await Json.ReadAsync(response);
        Assert.Contains("somebody-else", error.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.Array, error.GetProperty("validations").ValueKind);
    }

    [Fact]
    public async Task CspReports_AreAccepted_AndLogged()
    {
        using var client = Baton.CreateClient();
        var marker = Guid.NewGuid().ToString("N");
        using var response = await client.PostAsync("/api/v2/csp/reports",
            new StringContent($$$"""{"csp-report":{"blocked-uri":"https://{{{marker}}}.example"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Eventually.WaitAsync(() => Task.FromResult(Baton.Output.Contains(marker, StringComparison.Ordinal)), what: "the gateway logged the report");
    }

    [Fact]
    public async Task Status_AggregatesEveryService_AndMetricsSummaryCountsRequests()
    {
        using var client = Baton.CreateClient();
        var status = await GetJson("/api/status");
        var services = status.GetProperty("services").EnumerateArray().ToList();
        Assert.Equal(["chat", "git", "integrations", "runs"], services.Select(s => s.GetProperty("name").GetString()).Order());
        Assert.All(services, s => Assert.True(s.GetProperty("healthy").GetBoolean()));
        Assert.All(services, s => Assert.True(s.GetProperty("status").GetProperty("rss_bytes").GetInt64() > 0));
        Assert.Equal(Baton.WorkDir, status.GetProperty("working_dir").GetString());
        Assert.Equal(0, status.GetProperty("major").GetInt32());
        Assert.Equal(1, status.GetProperty("minor").GetInt32());

        for (var i = 0; i < 3; i++)
        {
            await client.GetAsync("/api/v2/deployment/ssh");
        }
        var summary = await GetJson("/api/metrics/summary");
        var top = summary.GetProperty("top_endpoints").EnumerateArray().ToList();
        Assert.Contains(top, e => e.GetProperty("route").GetString() == "/api/v2/deployment/ssh" && e.GetProperty("count").GetInt64() >= 3);
        Assert.Contains(summary.GetProperty("error_rates").EnumerateArray(), e => e.GetProperty("category").GetString() == "v2");
        Assert.True(summary.TryGetProperty("slowest_endpoints", out _));
        Assert.True(summary.TryGetProperty("top_agents", out _));
    }

    private async Task<JsonElement> GetJson(string path, bool authenticated = true)
    {
        using var client = Baton.CreateClient(authenticated);
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Json.ReadAsync(response);
    }
}
