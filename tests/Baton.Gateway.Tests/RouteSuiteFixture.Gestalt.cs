using System.Diagnostics;

namespace Baton.Gateway.Tests;

// What the gestalt rows need from the system: set before it starts, seeded after, removed at the end.
// A config directory of the suite's own (BATON_CONFIG_DIR: agent profiles whose shell is `cat`, a skill, a plan)
// and a private tmux server (TMUX_TMPDIR) for the external runner, so no row touches the user's.
public sealed partial class RouteSuiteFixture
{
    /// <summary>An agent profile whose sessions run <c>cat</c> in Baton's PTY or a tmux window; not a singleton.</summary>
    public const string CatAgent = "cat";
    /// <summary>A singleton profile (<c>cat</c> too): a second session while one runs is 409.</summary>
    public const string SoloAgent = "solo";
    public const string RouteSkill = "route-skill";
    public const string RoutePlan = "2026-01-26-routes.org";

    private string? _tmuxDir;

    public string GestaltConfigDir => Path.Combine(Root, "gestalt-config");

    /// <summary>The private tmux server's TMUX_TMPDIR (short: a socket path is limited to about 100 bytes).</summary>
    public string TmuxDir => _tmuxDir ??= TestEnvironment.NewDirectory("bt-tmux");

    private Task ConfigureGestaltAsync(BatonLaunchOptions options)
    {
        Write("agents/cat.toml", $"name = \"Cat\"\nshell = \"cat\"\nsingleton = false\nskills = [\"{RouteSkill}\"]\n");
        Write("agents/solo.toml", "name = \"Solo\"\nshell = \"cat\"\n");
        Write($"skills/{RouteSkill}/SKILL.md", $"---\nname: {RouteSkill}\ndescription: What the route suite lists\nlicense: MIT\n---\nBody.\n");
        Directory.CreateDirectory(Path.Combine(GestaltConfigDir, "skills", RouteSkill, "references"));
        Write($"plans/{RoutePlan}", "#+TITLE: Route Plan\n\n* WIP [#A] First\n** TODO [#B] Second\n");
        options.Environment["BATON_CONFIG_DIR"] = GestaltConfigDir;
        options.Environment["TMUX_TMPDIR"] = TmuxDir;
        // An empty TMUX makes tmux use TMUX_TMPDIR even when the suite itself runs inside tmux.
        options.Environment["TMUX"] = "";
        options.Environment["BATON_FLOW_WEBHOOK_RETRY_BASE_MS"] = "100";
        return Task.CompletedTask;
    }

    private static Task SeedGestaltAsync() => Task.CompletedTask;

    private ValueTask DisposeGestaltAsync()
    {
        if (_tmuxDir is not null)
        {
            Tmux("kill-server");
            TestEnvironment.DeleteQuietly(_tmuxDir);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Runs tmux against the suite's private server: exit code and stdout.</summary>
    public (int Code, string Output) Tmux(params string[] args)
    {
        var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["TMUX_TMPDIR"] = TmuxDir;
        start.Environment.Remove("TMUX");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(GestaltConfigDir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
