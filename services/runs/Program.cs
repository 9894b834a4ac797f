using Baton.Runs;
using Baton.Runs.Api;
using Baton.Runs.Sessions;
using Baton.Runs.Flows;
using Baton.Runs.Streams;
using Baton.Runs.Telemetry;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("runs");
builder.AddRuns();
builder.AddSessions();
builder.AddGestaltStreams();
builder.AddFlows();
builder.AddTelemetry();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<RunsApi>();
app.MapSessions();
app.MapGestaltStreams();
app.MapFlows();
app.MapTelemetry();
app.Run();

/// <summary>Entry point, visible to the in-process tests.</summary>
public partial class Program;
