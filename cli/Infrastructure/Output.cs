using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Baton.Cli.Infrastructure;

/// <summary>Tables for people, JSON (the REST API's own field names) for scripts.</summary>
public sealed class Output(OutputFormat format)
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private IAnsiConsole? _console;

    public bool IsJson => format == OutputFormat.Json;

    public IAnsiConsole Console => _console ??= CreateConsole();

    public static JsonNode ToJson(IMessage message) => JsonNode.Parse(Formatter.Format(message))!;

    public void Json(JsonNode? node) => System.Console.Out.WriteLine(node?.ToJsonString(Indented) ?? "null");

    /// <summary>One JSON object per line: for streams (events, logs) a script reads as they come.</summary>
    public void JsonLine(IMessage message) => System.Console.Out.WriteLine(Formatter.Format(message));

    public void List<T>(IEnumerable<T> items, string[] headers, Func<T, string?[]> row) where T : IMessage
    {
        if (IsJson)
        {
            Json(new JsonArray(items.Select(i => (JsonNode?)ToJson(i)).ToArray()));
            return;
        }
        var table = new Table().Border(TableBorder.Simple);
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(header));
        }
        var count = 0;
        foreach (var item in items)
        {
            table.AddRow(row(item).Select(c => (IRenderable)new Text(c ?? "")).ToArray());
            count++;
        }
        if (count == 0)
        {
            Console.MarkupLine("[grey](none)[/]");
            return;
        }
        Console.Write(table);
    }

    /// <summary>One object: JSON, or name/value lines.</summary>
    public void Object(IMessage message, params (string Name, string? Value)[] fields)
    {
        if (IsJson)
        {
            Json(ToJson(message));
            return;
        }
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        foreach (var (name, value) in fields)
        {
            grid.AddRow(new Text(name, new Style(decoration: Decoration.Bold)), new Text(value ?? ""));
        }
        Console.Write(grid);
    }

    /// <summary>A sentence for people; nothing in JSON mode unless <paramref name="json"/> is given.</summary>
    public void Done(string sentence, JsonNode? json = null)
    {
        if (IsJson)
        {
            if (json is not null)
            {
                Json(json);
            }
            return;
        }
        System.Console.Out.WriteLine(sentence);
    }

    public static string Time(Timestamp? timestamp) =>
        timestamp is null ? "" : timestamp.ToDateTimeOffset().ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Text(Value? value) => value?.KindCase == Value.KindOneofCase.StringValue ? value.StringValue : "";

    private static IAnsiConsole CreateConsole()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Out) });
        if (System.Console.IsOutputRedirected)
        {
            // Piped into grep or a file: keep each row on one line instead of wrapping at 80 columns.
            console.Profile.Width = 240;
        }
        return console;
    }
}
