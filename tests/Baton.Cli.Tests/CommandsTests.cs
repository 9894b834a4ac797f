using System.Text.Json.Nodes;
using Baton.Cli.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Cli.Tests;

/// <summary>The listing and run commands against the whole system: JSON that parses, tables, exit codes, login.</summary>
[Trait("Category", "Redis")]
public sealed class CommandsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ProjectsAgentsRuns_JsonParses_TablesShowThem_ExitCodesTellWhatWentWrong()
    {
        await using var baton = await CliSystem.StartAsync();
        var cli = baton.Cli;
        var (projectId, agentId) = await baton.CreateProjectAndAgentAsync("shop", "worker",
            "echo working; printf 'x\\n' > made-by-agent.txt; echo done");

        var projects = JsonNode.Parse((await cli.RunOkAsync("projects", "ls", "-o", "json")).Stdout)!.AsArray();
        var project = Assert.Single(projects);
        Assert.Equal(projectId, (string?)project!["id"]);
        Assert.Equal("repo-shop", (string?)project["repos"]![0]!["name"]);
        var agents = JsonNode.Parse((await cli.RunOkAsync("agents", "ls", "--project", "shop", "-o", "json")).Stdout)!.AsArray();
        Assert.Equal(agentId, (string?)Assert.Single(agents)!["id"]);
        Assert.Equal("custom", (string?)agents[0]!["cli_name"]);
        Assert.Contains("worker", (await cli.RunOkAsync("agents")).Stdout, StringComparison.Ordinal);

        // A run followed to its end: events print as they come and the exit code is the outcome.
        var followed = await cli.RunAsync("run", "make a file", "--agent", "worker", "--follow");
        Assert.True(followed.ExitCode == 0, followed.ToString());
        Assert.Contains("run.completed", followed.Stdout, StringComparison.Ordinal);
        var runs = JsonNode.Parse((await cli.RunOkAsync("runs", "ls", "-o", "json")).Stdout)!.AsArray();
        var run = Assert.Single(runs)!;
        var runId = (string)run["id"]!;
        Assert.Equal("completed", (string?)run["status"]);
        Assert.Contains(runId, (await cli.RunOkAsync("runs")).Stdout, StringComparison.Ordinal);

        // Short ids, like git's; the diff of what the agent wrote; events as JSON (an array) and NDJSON (-f).
        Assert.Contains("make a file", (await cli.RunOkAsync("runs", "show", runId[..8])).Stdout, StringComparison.Ordinal);
        Assert.Contains("made-by-agent.txt", (await cli.RunOkAsync("runs", "diff", runId)).Stdout, StringComparison.Ordinal);
        var events = JsonNode.Parse((await cli.RunOkAsync("runs", "events", runId, "-o", "json")).Stdout)!.AsArray();
        Assert.Contains(events, e => (string?)e!["event_type"] == "run.completed");
        var lines = (await cli.RunOkAsync("runs", "events", runId, "-f", "-o", "json")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(events.Count, lines.Length);
        Assert.All(lines, l => Assert.NotNull(JsonNode.Parse(l)!["event_type"]));
        Assert.Contains("working", (await cli.RunOkAsync("runs", "logs", runId)).Stdout, StringComparison.Ordinal);

        // Status exits 1 when a service is unhealthy (the gateway gives each 2 s, which a loaded machine can miss).
        var statusResult = await cli.RunAsync("status", "-o", "json");
        Assert.True(statusResult.ExitCode is 0 or 1, statusResult.ToString());
        var status = JsonNode.Parse(statusResult.Stdout)!;
        Assert.Equal(statusResult.ExitCode == 0, (bool)status["healthy"]!);
        Assert.True((bool?)status["redis"]!["ready"], status.ToJsonString());
        Assert.Equal(["chat", "git", "integrations", "runs"], status["services"]!.AsArray().Select(s => (string)s!["name"]!).Order(StringComparer.Ordinal));

        // Exit codes: 3 not found, 2 usage (bad input rejected by Baton or by the parser), 1 conflict, 4 unauthorized.
        var missing = await cli.RunAsync("runs", "show", Guid.NewGuid().ToString());
        Assert.Equal(3, missing.ExitCode);
        Assert.StartsWith("error: not found", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, (await cli.RunAsync("agents", "show", "nobody")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("run", "task")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("runs", "ls", "--status", "sleeping")).ExitCode);
        var conflict = await cli.RunAsync("runs", "cancel", runId);
        Assert.True(conflict.ExitCode == 1, conflict.ToString());
        Assert.StartsWith("error: conflict", conflict.Stderr, StringComparison.Ordinal);
        cli.Environment["BATON_TOKEN"] = "wrong-token";
        var unauthorized = await cli.RunAsync("runs", "ls");
        Assert.Equal(4, unauthorized.ExitCode);
        Assert.Contains("baton login", unauthorized.Stderr, StringComparison.Ordinal);
        Assert.Single(unauthorized.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Login_ChecksTheTokenThenSavesIt0600_LaterCommandsUseIt_LogoutForgets()
    {
        await using var baton = await CliSystem.StartAsync();
        var cli = baton.Cli;
        cli.Environment["BATON_TOKEN"] = null;
        var url = cli.Environment["BATON_URL"]!;
        cli.Environment["BATON_URL"] = null;
        var grpc = cli.Environment["BATON_GRPC_URL"]!;
        cli.Environment["BATON_GRPC_URL"] = null;
        var file = Path.Combine(cli.ConfigHome, "baton", "credentials.json");

        var wrong = await cli.RunAsync("login", "--url", url, "--grpc-url", grpc, "--token", "not-the-token");
        Assert.Equal(4, wrong.ExitCode);
        Assert.False(File.Exists(file));

        await cli.RunOkAsync("login", "--url", url, "--grpc-url", grpc, "--token", baton.System.Token);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var saved = JsonNode.Parse(File.ReadAllText(file))!;
        Assert.Equal(baton.System.Token, (string?)saved["token"]);
        // No flags and no environment: the saved login is used.
        Assert.Equal("[]", (await cli.RunOkAsync("projects", "ls", "-o", "json")).Stdout.Trim());
        // The environment overrides the saved token.
        cli.Environment["BATON_TOKEN"] = "env-wins";
        Assert.Equal(4, (await cli.RunAsync("projects", "ls")).ExitCode);
        cli.Environment["BATON_TOKEN"] = null;

        await cli.RunOkAsync("logout");
        Assert.False(File.Exists(file));
    }
}
