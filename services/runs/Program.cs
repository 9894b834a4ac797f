using Baton.Runs;
using Baton.Runs.Api;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("runs");
builder.AddRuns();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<RunsApi>();
app.Run();

/// <summary>Entry point, visible to the in-process tests.</summary>
public partial class Program;
