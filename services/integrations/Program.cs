using Baton.Integrations.Platform;
using Baton.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("integrations");
builder.Services.AddGrpc().AddJsonTranscoding();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<PlatformApi>();
app.Run();
