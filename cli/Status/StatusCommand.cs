using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Google.Protobuf.WellKnownTypes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Baton.Cli.Status;

/// <summary><c>baton status</c>: the gateway, each service, Redis, and their versions. Exits 1 when something is unhealthy.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var command = new Command("status", "Show the gateway, services, Redis and versions (exit 1 when something is unhealthy)");
        command.SetHandler(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(CliContext context)
    {
        var status = await context.Baton.Status.GetStatusAsync(new Empty(), cancellationToken: context.Cancellation);
        var notReady = await ReadNotReadyAsync(context);
        var redisReady = notReady is null ? (bool?)null : !notReady.Contains("redis");
        var healthy = status.Services.All(s => s.Healthy) && redisReady != false;

        if (context.Output.IsJson)
        {
            var json = Output.ToJson(status).AsObject();
            json["redis"] = new JsonObject { ["ready"] = redisReady };
            json["healthy"] = healthy;
            context.Output.Json(json);
            return healthy ? ExitCodes.Ok : ExitCodes.Error;
        }

        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("component").AddColumn("state").AddColumn("version").AddColumn("started").AddColumn("details");
        table.AddRow(Cells("gateway", "healthy", status.Version, Output.Time(status.Gateway?.StartedAt), $"{context.Connection.Url.ToString().TrimEnd('/')} · gRPC {context.Connection.GrpcUrl.ToString().TrimEnd('/')}"));
        foreach (var service in status.Services)
        {
            var counters = service.Status is null ? "" : string.Join(", ", service.Status.Counters.Where(c => c.Value != 0).OrderBy(c => c.Key, StringComparer.Ordinal)
                .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key}={c.Value}")));
            table.AddRow(Cells(service.Name, service.Healthy ? "healthy" : "unhealthy", service.Status?.Version, Output.Time(service.Status?.StartedAt),
                service.Healthy ? counters : service.Error));
        }
        table.AddRow(Cells("redis", redisReady switch { true => "ready", false => "not ready", null => "unknown" }, "", "", ""));
        context.Output.Console.Write(table);
        context.Output.Console.WriteLine($"Baton {status.Version} (commit {Short(status.GitCommit)}), {status.SessionCount} active sessions, server time {Output.Time(status.ServerTime)}");
        return healthy ? ExitCodes.Ok : ExitCodes.Error;
    }

    /// <summary>The open <c>/ready</c> probe names what is not ready (Redis among them); null when it cannot be read.</summary>
    private static async Task<HashSet<string>?> ReadNotReadyAsync(CliContext context)
    {
        try
        {
            using var response = await context.Baton.Http.GetAsync("/ready", context.Cancellation);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(context.Cancellation));
            return (body?["not_ready"] as JsonArray)?.Select(n => (string?)n ?? "").ToHashSet(StringComparer.Ordinal) ?? [];
        }
        catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static IRenderable[] Cells(params string?[] values) => values.Select(v => (IRenderable)new Text(v ?? "")).ToArray();

    private static string Short(string commit) => commit.Length > 12 ? commit[..12] : commit;
}
