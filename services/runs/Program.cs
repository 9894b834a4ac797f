using Baton.Runs;
using Baton.Runs.Api;
using Baton.Runs.Sessions;
using Baton.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("runs");
builder.AddRuns();
builder.AddSessions();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<RunsApi>();
app.MapSessions();
app.Run();

/// <summary>Entry point, visible to the in-process tests.</summary>
public partial class Program;
