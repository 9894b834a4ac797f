using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>
/// The real Claude Code CLI, started by a run through the whole system, exports its own
/// OpenTelemetry to the gateway's OTLP receiver with the ingest-only credential, tagged with the
/// run id: the run's token, cost and tool telemetry is in <c>/api/otel/*</c>.
/// </summary>
[Trait("Category", "Redis")]
public sealed class RealClaudeTelemetryTests
{
    private const string Model = "claude-sonnet-4-6";
    private const string ToolUseId = "toolu_baton_otel_01";

    [RealClaudeCliFact]
    public async Task ARun_OfClaudeCode_ExportsTokenCostAndToolTelemetry_TaggedWithTheRunId()
    {
        var claude = PinnedCli.Claude.RequireExecutable();
        await using var api = await FakeAnthropicApi.StartAsync(request => request.ToolResult(ToolUseId) is null
            ? new FakeReply(
            [
                new FakeText("Writing the file."),
                new FakeToolUse(ToolUseId, "Bash", new JsonObject { ["command"] = "echo telemetry > otel.txt", ["description"] = "Write a file" }),
            ], "tool_use", 1000, 21)
            : new FakeReply([new FakeText("Done.")], "end_turn", 1200, 34));
        var worktrees = RunsHost.NewTempDir("otel-worktrees");
        await using var git = await FakeGitServer.StartAsync(worktrees);
        await using var gestalt = await GestaltSystem.StartAsync(o =>
        {
            o.Environment["services__git__grpc__0"] = git.Url;
            o.Environment["BATON_CLAUDE_COMMAND"] = claude;
            o.Environment["BATON_AGENT_OTEL_EXPORT_INTERVAL_MS"] = "1000";
        });
        var http = gestalt.Http;

        using var projectResponse = await http.PostAsJsonAsync("/api/projects", new { name = "otel" });
        var projectId = (string)JsonNode.Parse(await projectResponse.Content.ReadAsStringAsync())!["id"]!;
        git.Service.AddRepo(projectId, "app", GitProcess.CreateRepo(Path.Combine(gestalt.Root, "repo")));
        var home = Directory.CreateDirectory(Path.Combine(gestalt.Root, "claude-home")).FullName;
        using var agentResponse = await http.PostAsJsonAsync("/api/agents", new
        {
            project_id = projectId,
            name = "otel",
            cli_name = "claude-code",
            model = Model,
            max_turns = 5,
            provider_config = new
            {
                env = new Dictionary<string, string>
                {
                    ["ANTHROPIC_BASE_URL"] = api.Url,
                    ["ANTHROPIC_API_KEY"] = api.ApiKey,
                    ["HOME"] = home,
                    ["CLAUDE_CONFIG_DIR"] = Path.Combine(home, ".claude"),
                    ["DISABLE_AUTOUPDATER"] = "1",
                },
            },
        });
        Assert.Equal(HttpStatusCode.Created, agentResponse.StatusCode);
        var agentId = (string)JsonNode.Parse(await agentResponse.Content.ReadAsStringAsync())!["id"]!;
        using var runResponse = await http.PostAsJsonAsync("/api/runs", new { agent_id = agentId, task = "Write otel.txt." });
        Assert.Equal(HttpStatusCode.Created, runResponse.StatusCode);
        var runId = (string)JsonNode.Parse(await runResponse.Content.ReadAsStringAsync())!["id"]!;
        await Eventually.WaitAsync(async () => (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"] is "completed" or "failed",
            TimeSpan.FromSeconds(90), "the run ended");
        Assert.Equal("completed", (string?)JsonNode.Parse(await http.GetStringAsync($"/api/runs/{runId}"))!["status"]);

        // The CLI's metrics carry the run id as a resource attribute; token and cost usage are among them.
        // Claude Code exports deltas, so the run's tokens are the sum over every export.
        JsonArray metrics = [];
        List<JsonNode> points = [];
        double Tokens(string type) => points.Where(p => p["attributes"]!.AsArray().Any(a => (string?)a!["key"] == "type" && (string?)a["value"]!["stringValue"] == type))
            .Sum(p => p["asDouble"] is { } d ? (double)d : double.Parse(p["asInt"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture));
        await Eventually.WaitAsync(async () =>
        {
            metrics = JsonNode.Parse(await http.GetStringAsync($"/api/otel/metrics?query={runId}&limit=1000"))!.AsArray();
            points = [.. metrics.Where(m => Name(m) == "claude_code.token.usage")
                .SelectMany(m => m!["resourceMetrics"]![0]!["scopeMetrics"]![0]!["metrics"]![0]!["sum"]!["dataPoints"]!.AsArray()).Select(p => p!)];
            return metrics.Any(m => Name(m) == "claude_code.cost.usage") && Tokens("input") >= 2200 && Tokens("output") >= 55;
        }, TimeSpan.FromSeconds(60), "Claude Code's token (1000 + 1200 in, 21 + 34 out) and cost metrics");
        var tokens = metrics.Last(m => Name(m) == "claude_code.token.usage")!;
        var resource = tokens["resourceMetrics"]![0]!["resource"]!["attributes"]!.AsArray();
        Assert.Contains(resource, a => (string?)a!["key"] == "baton.run.id" && (string?)a["value"]!["stringValue"] == runId);
        Assert.Contains(resource, a => (string?)a!["key"] == "service.name" && (string?)a["value"]!["stringValue"] == "claude-code");
        Assert.Equal(2200, Tokens("input"));
        Assert.Equal(55, Tokens("output"));

        // The tool the model called is one of the CLI's log events, which joined /api/logs/stream tagged with the run.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/logs/stream");
        using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await stream.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        JsonNode? tool = null;
        while (tool is null)
        {
            var frame = await sse.ReadFrameAsync(timeout.Token) ?? throw new InvalidOperationException("the log stream ended");
            if (frame.Data.Contains(runId, StringComparison.Ordinal) && frame.Data.Contains("tool_result", StringComparison.Ordinal))
            {
                tool = JsonNode.Parse(frame.Data);
            }
        }
        Assert.Equal("claude-code", (string?)tool!["service"]);
        Assert.Equal(runId, (string?)tool["attributes"]!["baton.run.id"]);
        Assert.Equal("Bash", (string?)tool["attributes"]!["tool_name"]);
    }

    private static string? Name(JsonNode? record) => (string?)record?["resourceMetrics"]?[0]?["scopeMetrics"]?[0]?["metrics"]?[0]?["name"];
}
