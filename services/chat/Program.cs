using Baton.Chat;
using Baton.ServiceDefaults.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("chat");
builder.AddChatService();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapChatService();
app.Run();

/// <summary>Visible to WebApplicationFactory in tests.</summary>
public partial class Program;
