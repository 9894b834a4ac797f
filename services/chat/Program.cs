using Baton.Chat;
using Baton.Chat.Api;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Validation;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("chat");
builder.AddChatService();

var app = builder.Build();
app.UseInternalCallerCheck();
app.UseOptionalChatBody();
app.UseRequestValidation();
app.UseHttpStatusOverride();
app.MapDefaultEndpoints();
app.MapChatService();
app.Run();

/// <summary>Visible to WebApplicationFactory in tests.</summary>
public partial class Program;
