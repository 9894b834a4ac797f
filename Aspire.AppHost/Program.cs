using Baton.AppHost;
using Baton.AppHost.Hosting;

if (!CommandLine.TryParse(args, out var options, out var problem))
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(CommandLine.Usage);
    return problem is null ? 0 : 2;
}
if ((LoopbackPorts.Problem(options.Host, options.Port, "--port") ?? (options.UsesTls ? null : LoopbackPorts.Problem(options.Host, options.GrpcPort, "--grpc-port"))) is { } busy)
{
    Console.Error.WriteLine($"baton: {busy}");
    return 1;
}

var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
{
    Args = args,
    DashboardApplicationName = "Baton",
    // The dashboard listens on loopback only; plain HTTP needs no development certificate.
    AllowUnsecuredTransport = true,
});
Dashboard.Configure(builder, options);
builder.AddBaton(options);
await builder.Build().RunAsync();
return 0;
