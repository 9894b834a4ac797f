using Baton.Integrations.Platform;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("integrations");
builder.Services.AddBatonGrpc();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<PlatformApi>();
app.Run();
