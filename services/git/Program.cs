using Baton.Git;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("git");
builder.AddGitService();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGitService();
app.Run();

/// <summary>Visible to WebApplicationFactory in tests.</summary>
public partial class Program;
