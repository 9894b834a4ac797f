using Baton.Integrations;
using Baton.Integrations.Api;
using Baton.Integrations.Bindings;
using Baton.Integrations.Connections;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("integrations");
builder.AddIntegrations();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseRequestValidation();
app.UseBodyReadErrors();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<IntegrationsApi>();
app.MapBrowserEndpoints();
app.MapBindingRoutes();
app.MapMcp("/mcp");
app.Run();
