using System.CommandLine;

namespace Baton.Cli.Infrastructure;

public enum OutputFormat
{
    Table,
    Json,
}

/// <summary>Options every command accepts: where Baton is, who you are, and how to print.</summary>
public static class GlobalOptions
{
    public static readonly Option<string?> Url = new("--url")
    {
        Description = "Baton's gateway (REST/WebSocket), e.g. http://127.0.0.1:8080 [env: BATON_URL; default: the saved login, else http://127.0.0.1:8080]",
        Recursive = true,
    };

    public static readonly Option<string?> GrpcUrl = new("--grpc-url")
    {
        Description = "The gateway's gRPC port [env: BATON_GRPC_URL; default: the URL's port + 1 over http, the same URL over https]",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "Bearer token: the admin token or a gst_api_ token [env: BATON_TOKEN; default: the saved login]",
        Recursive = true,
    };

    public static readonly Option<OutputFormat> Output = new("--output", "-o")
    {
        Description = "table for people, json for scripts",
        DefaultValueFactory = _ => OutputFormat.Table,
        Recursive = true,
    };

    public static void AddTo(Command root)
    {
        root.Options.Add(Url);
        root.Options.Add(GrpcUrl);
        root.Options.Add(Token);
        root.Options.Add(Output);
    }
}
