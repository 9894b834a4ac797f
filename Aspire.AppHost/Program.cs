using System.Runtime.InteropServices;
using Baton.AppHost;
using Baton.AppHost.Orchestration;

if (!CommandLine.TryParse(args, out var options, out var problem))
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(CommandLine.Usage);
    return problem is null ? 0 : 2;
}

Orchestrator? system = null;
var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    // Ctrl+C reaches the children too (same process group): their exits are expected from here on.
    system?.BeginShutdown();
    stop.TrySetResult();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

options.OnOutput = (_, line) => Console.Out.WriteLine(line);
var started = System.Diagnostics.Stopwatch.StartNew();
try
{
    system = await Orchestrator.StartAsync(options, stop.Task.IsCompleted ? new CancellationToken(true) : default);
}
catch (LaunchException ex)
{
    Console.Error.WriteLine($"baton: {ex.Message}");
    return 1;
}

await using (system)
{
    system.Crashed += (name, code) => Console.Error.WriteLine($"baton: {name} crashed (exit code {code}); /ready reports it until you restart Baton");
    Console.WriteLine();
    Console.WriteLine($"Baton is ready in {started.Elapsed.TotalSeconds:0.0} s");
    Console.WriteLine($"  REST, WebSocket, SSE  {system.GatewayUrl}");
    Console.WriteLine($"  gRPC (HTTP/2)         {system.GrpcUrl}");
    Console.WriteLine($"  event bus             {system.RedisDescription}");
    Console.WriteLine($"  data                  {options.DataDir}");
    Console.WriteLine(options.Token is null
        ? "  auth                  disabled (loopback only); set BATON_TOKEN or pass --token to require one"
        : $"  auth                  curl -H \"Authorization: Bearer $BATON_TOKEN\" {system.GatewayUrl}/api/status");
    Console.WriteLine("Press Ctrl+C to stop.");
    await stop.Task;
    Console.WriteLine("baton: stopping every process…");
}
return 0;
