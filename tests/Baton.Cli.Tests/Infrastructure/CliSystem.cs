using System.Text.Json.Nodes;
using Baton.Testing;

namespace Baton.Cli.Tests.Infrastructure;

/// <summary>The whole system plus a CLI pointed at it, and a custom agent whose "CLI" is a small shell loop.</summary>
public sealed class CliSystem : IAsyncDisposable
{
    // Echoes each line back as got:<line>; "size" prints the PTY's size as the child sees it.
    public const string EchoLoop = "echo ready; while IFS= read -r l; do if [ \"$l\" = size ]; then stty size; else echo \"got:$l\"; fi; done";

    private CliSystem(BatonSystem system, BatonCli cli)
    {
        System = system;
        Cli = cli;
    }

    public BatonSystem System { get; }
    public BatonCli Cli { get; }

    public static async Task<CliSystem> StartAsync(Action<BatonLaunchOptions>? configure = null)
    {
        var options = new BatonLaunchOptions();
        options.Environment["BATON_KILL_GRACE_SECONDS"] = "1";
        configure?.Invoke(options);
        var system = await BatonSystem.StartAsync(options);
        return new CliSystem(system, new BatonCli(system));
    }

    /// <summary>A git repository with one commit, inside the system's data folder (removed with it).</summary>
    public string CreateRepo(string name) => GitProcess.CreateRepo(Path.Combine(System.DataDir, name));

    /// <summary>Project, repo and a custom agent made through the CLI; returns the agent's name.</summary>
    public async Task<(string ProjectId, string AgentId)> CreateProjectAndAgentAsync(string project, string agent, string command = EchoLoop)
    {
        var repo = CreateRepo("repo-" + project);
        var created = JsonNode.Parse((await Cli.RunOkAsync("projects", "create", project, "--repo", repo, "-o", "json")).Stdout)!;
        var projectId = (string)created["id"]!;
        var agentJson = JsonNode.Parse((await Cli.RunOkAsync("agents", "create", "--project", project, "--name", agent, "--cli", "custom", "--command", command, "-o", "json")).Stdout)!;
        return (projectId, (string)agentJson["id"]!);
    }

    public async Task<string> StartRunAsync(string agent, string task)
    {
        var run = JsonNode.Parse((await Cli.RunOkAsync("run", task, "--agent", agent, "-o", "json")).Stdout)!;
        return (string)run["id"]!;
    }

    public async Task<string> RunStatusAsync(string runId) =>
        (string)JsonNode.Parse((await Cli.RunOkAsync("runs", "show", runId, "-o", "json")).Stdout)!["status"]!;

    public async ValueTask DisposeAsync()
    {
        Cli.Dispose();
        await System.DisposeAsync();
    }
}
