using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Baton.AppHost.Orchestration;
using Baton.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Foundation.Tests.Launcher;

/// <summary>
/// The real AppHost (DCP, resources, health checks, the event bus supervisor) started once through
/// Aspire.Hosting.Testing, with its services exporting traces to an in-test OTLP receiver.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    private readonly CancellationTokenSource _watching = new();
    private readonly ConcurrentQueue<string> _logs = new();
    private Task _watch = Task.CompletedTask;

    public DistributedApplication App { get; private set; } = null!;
    public OtlpReceiver Otlp { get; private set; } = null!;
    public string Token { get; } = "apphost-" + Guid.NewGuid().ToString("N");
    public string DataDir { get; } = Directory.CreateTempSubdirectory("baton-apphost-").FullName;
    public int Port { get; } = Ports.Free();
    public int GrpcPort { get; } = Ports.Free();
    public string EventBusName { get; } = BatonSystem.TestRedisMode == RedisMode.Garnet ? "garnet" : "redis";
    /// <summary>Every resource update Aspire published, in order, from before the start.</summary>
    public ConcurrentQueue<ResourceEvent> Events { get; } = new();
    /// <summary>The AppHost's own log lines (the supervisor's and crash reporter's messages).</summary>
    public IReadOnlyList<string> Logs => [.. _logs];
    public ResourceNotificationService Notifications => App.Services.GetRequiredService<ResourceNotificationService>();

    public async Task InitializeAsync()
    {
        Otlp = await OtlpReceiver.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var entryPoint = typeof(Baton.AppHost.CommandLine).Assembly.EntryPoint!.DeclaringType!;
        string[] args =
        [
            "--port", $"{Port}", "--grpc-port", $"{GrpcPort}", "--data-dir", DataDir, "--workdir", DataDir,
            "--token", Token, "--redis", EventBusName == "garnet" ? "garnet" : "redis-server",
        ];
        var builder = await DistributedApplicationTestingBuilder.CreateAsync(entryPoint, args,
            (options, _) => options.DisableDashboard = true, timeout.Token);
        // Traces go to the receiver instead of the (disabled) dashboard.
        builder.Configuration["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = Otlp.Url;
        builder.Services.AddLogging(logging => logging.AddProvider(new RecordingLoggerProvider(_logs)));
        App = await builder.BuildAsync(timeout.Token);
        _watch = Task.Run(async () =>
        {
            await foreach (var update in Notifications.WatchAsync(_watching.Token))
            {
                Events.Enqueue(update);
            }
        });
        await App.StartAsync(timeout.Token);
        await Notifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
    }

    public HttpClient CreateClient(bool authenticated = true)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(60) };
        if (authenticated)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }
        return client;
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        await _watching.CancelAsync();
        await _watch.ContinueWith(_ => { }, TaskScheduler.Default);
        await Otlp.DisposeAsync();
        Directory.Delete(DataDir, recursive: true);
    }

    private sealed class RecordingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);
        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (category.StartsWith("Baton.", StringComparison.Ordinal))
                {
                    lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
                }
            }
        }
    }
}

/// <summary>
/// DCP, the dashboard and seven processes are a lot for two cores: these tests run on their own,
/// after the parallel ones, so neither they nor the other system tests start under each other's load.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "aspire apphost";
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostProcessCollection
{
    public const string Name = "aspire apphost processes";
}
