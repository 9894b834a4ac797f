using Baton.Chat.Status;
using Baton.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("chat");
builder.Services.AddGrpc().AddJsonTranscoding();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapGrpcService<ChatStatusService>();
app.Run();
