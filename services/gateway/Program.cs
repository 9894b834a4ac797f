using Baton.Gateway;
using Baton.Gateway.Auth;
using Baton.Gateway.Bridges;
using Baton.Gateway.Deployment;
using Baton.Gateway.Errors;
using Baton.Gateway.Health;
using Baton.Gateway.Logs;
using Baton.Gateway.Status;
using Baton.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("gateway");
builder.AddGateway();

var app = builder.Build();
app.UseRequestMetrics();
app.UseWebSockets();
app.UseMiddleware<AuthenticationMiddleware>();
app.UseOwnRouteErrorShaping();
app.MapReadiness();
app.MapGrpcService<DeploymentApi>();
app.MapGrpcService<SystemStatusApi>();
app.MapGrpcService<LogsApi>();
app.MapLogStreams();
app.MapRunEventsBridge();
app.MapTerminalBridge();
app.MapFileEventsBridge();
app.MapReverseProxy();
app.Run();
