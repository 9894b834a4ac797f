using Baton.Cli.Infrastructure;
using Baton.Contracts.Runs.V1;
using Google.Protobuf.WellKnownTypes;

namespace Baton.Cli.Runs;

/// <summary>Prints run events as they come (one JSON object per line with -o json) and follows a run to its end.</summary>
public static class RunEvents
{
    public static readonly string[] FinalStatuses = ["completed", "failed", "cancelled"];

    /// <summary>Streams a run's events after <paramref name="afterId"/> until it ends; returns the last status event seen.</summary>
    public static async Task<string?> FollowAsync(CliContext context, string runId, long afterId)
    {
        string? last = null;
        using var call = context.Baton.Runs.StreamRunEvents(new StreamRunEventsRequest { RunId = runId, AfterId = afterId }, cancellationToken: context.Cancellation);
        while (await call.ResponseStream.MoveNext(context.Cancellation))
        {
            var e = call.ResponseStream.Current;
            Print(context.Output, e);
            if (e.EventType.StartsWith("run.", StringComparison.Ordinal) && e.EventType != "run.result")
            {
                last = e.EventType["run.".Length..];
            }
        }
        return last;
    }

    public static void Print(Output output, RunEvent e)
    {
        if (output.IsJson)
        {
            output.JsonLine(e);
            return;
        }
        if (e.EventType == "agent.token")
        {
            // Streamed text: printed as it comes, without a line per token.
            Console.Out.Write(Field(e.Payload, "text") ?? Field(e.Payload, "token") ?? "");
            return;
        }
        Console.Out.WriteLine($"{Output.Time(e.CreatedAt)} #{e.Sequence} {e.EventType}{Summary(e)}");
    }

    private static string Summary(RunEvent e)
    {
        var payload = e.Payload;
        var text = e.EventType switch
        {
            "run.created" => Field(payload, "task"),
            "run.failed" => Field(payload, "reason") ?? Field(payload, "error"),
            "agent.message" or "user.message" => Field(payload, "text") ?? Field(payload, "message") ?? Field(payload, "content"),
            "agent.tool_call" => Join(Field(payload, "tool"), payload?.Fields.TryGetValue("input", out var input) == true ? input.ToString() : null),
            "agent.tool_result" => Join(Field(payload, "tool"), payload?.Fields.TryGetValue("error", out var error) == true ? "failed: " + error : null),
            "agent.needs_attention" => Field(payload, "message") ?? Field(payload, "reason"),
            _ => null,
        };
        if (text is null)
        {
            return "";
        }
        text = text.ReplaceLineEndings(" ");
        return ": " + (text.Length > 200 ? text[..200] + "…" : text);
    }

    private static string? Join(string? first, string? second) => first is null ? second : second is null ? first : $"{first} {second}";

    private static string? Field(Struct? payload, string name) =>
        payload is not null && payload.Fields.TryGetValue(name, out var value) && value.KindCase == Value.KindOneofCase.StringValue ? value.StringValue : null;
}
