using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Baton.Runs.Catalog;
using Baton.Runs.Sessions;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Configuration;
using Baton.Sessions.Tests.Infrastructure;
using Baton.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Sessions.Tests;

public sealed class ConfigCatalogTests
{
    private sealed class RecordingSink : IGestaltEventSink
    {
        public ConcurrentQueue<(GestaltStream Stream, JsonObject Payload)> Events { get; } = new();

        public ValueTask PublishAsync(GestaltStream stream, JsonObject payload, CancellationToken cancellationToken = default)
        {
            Events.Enqueue((stream, payload));
            return ValueTask.CompletedTask;
        }
    }

    private static (ConfigWatcher Watcher, ConfigCatalog Catalog, RecordingSink Sink) Create(string configDir)
    {
        var sink = new RecordingSink();
        var services = new ServiceCollection().AddSingleton<IGestaltEventSink>(sink).BuildServiceProvider();
        var options = new BatonOptions { ServiceName = "runs", DataDir = configDir, InternalSecret = "x", ConfigDir = configDir };
        var watcher = new ConfigWatcher(options, services, TimeProvider.System, NullLogger<ConfigWatcher>.Instance) { Debounce = TimeSpan.FromMilliseconds(50) };
        return (watcher, new ConfigCatalog(watcher, NullLogger<ConfigCatalog>.Instance), sink);
    }

    [Fact]
    public async Task MalformedFile_IsAConfigErrorEventWithNameAndLine_ValidOnesStillLoad_ChangesAreLive()
    {
        using var dir = new TempDir("bt-cat-");
        dir.Write("agents/good.toml", "name = \"Good\"\nshell = \"cat\"\n");
        dir.Write("agents/bad.toml", "name = \"Bad\"\nshell = \"cat\"\nskills = [1, 2]\n");
        dir.Write("skills/broken/SKILL.md", "---\nname: [\n---\n");
        dir.Write("skills/fine/SKILL.md", "---\nname: fine\ndescription: ok\n---\n");
        var (watcher, catalog, sink) = Create(dir.Path);
        using var _ = watcher;
        using var __ = catalog;
        await watcher.StartAsync(CancellationToken.None);
        await catalog.StartAsync(CancellationToken.None);

        Assert.Equal(["good"], catalog.Agents.Select(a => a.Id));
        Assert.Equal(["fine"], catalog.Skills.Select(s => s.Name));
        var errors = sink.Events.Where(e => e.Stream == GestaltStream.Config && (string?)e.Payload["type"] == "config_error").Select(e => e.Payload).ToList();
        var agentError = errors.Single(e => (string?)e["config_type"] == "agent");
        Assert.Equal("agents/bad.toml", (string?)agentError["path"]);
        Assert.Equal("error", (string?)agentError["change_type"]);
        Assert.StartsWith("agents/bad.toml:3: skills entries must be strings", (string?)agentError["message"]);
        Assert.StartsWith("skills/broken/SKILL.md:3", (string?)errors.Single(e => (string?)e["config_type"] == "skill")["message"]);
        foreach (var folder in ConfigWatcher.Folders)
        {
            Assert.True(Directory.Exists(Path.Combine(dir.Path, folder)), folder);
        }

        // Fixing the file, adding one and removing one are picked up by the watcher.
        dir.Write("agents/bad.toml", "name = \"Bad\"\nshell = \"cat\"\nskills = [\"a\"]\n");
        dir.Write("agents/new.toml", "name = \"New\"\ncli_type = \"claude\"\n");
        File.Delete(Path.Combine(dir.Path, "agents/good.toml"));
        await Eventually.WaitAsync(() => Task.FromResult(catalog.Agents.Select(a => a.Id).SequenceEqual(["bad", "new"])),
            TimeSpan.FromSeconds(20), "the fixed and new profiles loaded, the deleted one gone");
        await Eventually.WaitAsync(() => Task.FromResult(
            sink.Events.Any(e => (string?)e.Payload["type"] == "config_deleted" && (string?)e.Payload["path"] == "agents/good.toml")
            && sink.Events.Any(e => (string?)e.Payload["type"] == "config_created" && (string?)e.Payload["path"] == "agents/new.toml")),
            TimeSpan.FromSeconds(20), "created and deleted events");
        await watcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task MissingTmux_IsTmuxUnavailable_NotACrash()
    {
        using var dir = new TempDir("bt-notmux-");
        using var tmux = new Tmux(NullLogger<Tmux>.Instance) { Executable = Path.Combine(dir.Path, "no-tmux-here") };
        using var output = new SessionOutput(dir.Path, 1024 * 1024, 1024);
        var launch = new SessionLaunch("A 1", "cat", dir.Path, new Dictionary<string, string>(), 80, 24);
        var error = await Assert.ThrowsAsync<TmuxUnavailableException>(() =>
            TmuxRunner.StartAsync(tmux, launch, output, Path.Combine(dir.Path, "pane.fifo"), NullLogger.Instance, CancellationToken.None));
        Assert.StartsWith("tmux unavailable", error.Message);
    }
}
