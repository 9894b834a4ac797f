using Baton.Runs;
using Baton.Runs.Api;
using Baton.Runs.Sessions;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("runs");
builder.AddRuns();
builder.AddSessions();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<RunsApi>();
app.MapSessions();
app.Run();

/// <summary>Entry point, visible to the in-process tests.</summary>
public partial class Program;
