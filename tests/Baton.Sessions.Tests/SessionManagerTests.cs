using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Runs;
using Baton.Runs.Catalog;
using Baton.Runs.Sessions;
using Baton.Runs.Streams;
using Baton.ServiceDefaults.Configuration;
using Baton.Sessions.Tests.Infrastructure;
using Baton.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Sessions.Tests;

/// <summary>The session manager in-process with a real PTY: events, prompt injection, the environment seam, ISessionControl.</summary>
public sealed class SessionManagerTests
{
    private sealed class RecordingSink : IGestaltEventSink
    {
        public ConcurrentQueue<(GestaltStream Stream, JsonObject Payload)> Events { get; } = new();

        public ValueTask PublishAsync(GestaltStream stream, JsonObject payload, CancellationToken cancellationToken = default)
        {
            Events.Enqueue((stream, payload));
            return ValueTask.CompletedTask;
        }

        public bool Has(GestaltStream stream, string type, string sessionId) =>
            Events.Any(e => e.Stream == stream && (string?)e.Payload["type"] == type
                && ((string?)e.Payload["session_id"] == sessionId || (string?)e.Payload["context"]?["session_id"] == sessionId));
    }

    private sealed class MarkerContributor : IAgentEnvironmentContributor
    {
        public void Contribute(AgentProcessContext context, IDictionary<string, string> environment) =>
            environment["BATON_TEST_MARKER"] = $"{context.Kind}:{context.Id}:{context.AgentId}";
    }

    [Fact]
    public async Task Session_PublishesTerminalAndAgentEvents_InjectsPrompts_TakesContributedEnvironment()
    {
        using var dir = new TempDir("bt-mgr-");
        dir.Write("config/agents/echo.toml", "name = \"Echo\"\nshell = \"cat\"\nprompt = [\"greeting\", \"second line\"]\nonair_string = \"READY\"\nsingleton = false\n");
        dir.Write("config/prompts/greeting.tmpl", "hello from the template\n");
        dir.Write("config/agents/env.toml", "name = \"Env\"\nshell = \"sh -c 'echo marker=$BATON_TEST_MARKER; exec cat'\"\n");
        var sink = new RecordingSink();
        var services = new ServiceCollection()
            .AddSingleton<IGestaltEventSink>(sink)
            .AddSingleton<IAgentEnvironmentContributor, MarkerContributor>()
            .BuildServiceProvider();
        var options = new BatonOptions { ServiceName = "runs", DataDir = Path.Combine(dir.Path, "data"), InternalSecret = "x", ConfigDir = Path.Combine(dir.Path, "config") };
        using var watcher = new ConfigWatcher(options, services, TimeProvider.System, NullLogger<ConfigWatcher>.Instance);
        using var catalog = new ConfigCatalog(watcher, NullLogger<ConfigCatalog>.Instance);
        await catalog.StartAsync(CancellationToken.None);
        using var tmux = new Tmux(NullLogger<Tmux>.Instance);
        await using var manager = new SessionManager(catalog, tmux, new SessionsConfiguration { WorkDir = dir.Path }, new RunsConfiguration(), options,
            services, TimeProvider.System, NullLogger<SessionManager>.Instance);
        await manager.StartAsync(CancellationToken.None);

        var echo = await manager.CreateAsync("Echo", "server", null, null, CancellationToken.None);
        Assert.Equal("Echo 1", echo.Id);
        Assert.Equal(["greeting.tmpl"], echo.PromptFiles);
        Assert.Equal("stdin", echo.Launch.InjectionMode);
        Assert.Equal(["hello from the template", "second line"], echo.Launch.Payload);
        Assert.True(sink.Has(GestaltStream.Terminal, "terminal_created", echo.Id));
        Assert.True(sink.Has(GestaltStream.Agent, "agent_started", echo.Id));
        Assert.Equal("Echo 2", (await manager.CreateAsync("echo", "server", "second", null, CancellationToken.None)).Id);
        Assert.Equal(["Echo 1", "Echo 2"], await manager.SessionsOfAgentAsync("echo"));

        // The prompts wait for the on-air string, then are typed, each followed by Enter.
        Assert.DoesNotContain("hello from the template", Encoding.UTF8.GetString(echo.Output.Recent()));
        await manager.SendInputAsync(echo.Id, "READY\n"u8.ToArray());
        await Eventually.WaitAsync(async () => (await manager.OutputTailAsync(echo.Id, 20)).Count(l => l == "second line") >= 1,
            TimeSpan.FromSeconds(30), "the prompts typed into the session");
        var tail = await manager.OutputTailAsync(echo.Id, 20);
        Assert.Contains("hello from the template", tail);

        var env = await manager.CreateAsync("env", "server", null, null, CancellationToken.None);
        await Eventually.WaitAsync(() => Task.FromResult(Encoding.UTF8.GetString(env.Output.Recent()).Contains("marker=session:Env 1:env", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the contributed environment variable");
        Assert.Equal(env.Id, await manager.StartSessionAsync("env", null, reuseIfRunning: true));
        await Assert.ThrowsAsync<SessionConflictException>(() => manager.StartSessionAsync("env", null, reuseIfRunning: false));

        Assert.True(await manager.DeleteAsync(echo.Id, CancellationToken.None));
        await Eventually.WaitAsync(() => Task.FromResult(sink.Has(GestaltStream.Terminal, "terminal_closed", echo.Id) && sink.Has(GestaltStream.Agent, "agent_stopped", echo.Id)),
            TimeSpan.FromSeconds(30), "closed and stopped events");
        Assert.Null(manager.Get(echo.Id));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => manager.SendInputAsync(echo.Id, "x"u8.ToArray()));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => manager.CreateAsync("nobody", "server", null, null, CancellationToken.None));
        await manager.StopAsync(CancellationToken.None);
    }
}
