using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;

namespace Baton.Runs.Flows;

/// <summary>YAML ⇄ JSON trees for the flow bundle and flow files (YAML 1.2 core schema for plain scalars).</summary>
public static partial class YamlTree
{
    private const int MaxNodes = 100_000;

    /// <summary>Parses one YAML document; invalid YAML, several documents or alias bombs are 400.</summary>
    public static JsonNode? Parse(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw FlowConfigException.BadRequest($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // The representation model throws these for some malformed input (duplicate keys in one flow mapping,
            // keys it cannot compare) instead of a YamlException; they are the caller's bad YAML all the same.
            throw FlowConfigException.BadRequest("invalid YAML: a mapping has duplicate or malformed keys");
        }
        if (stream.Documents.Count == 0)
        {
            throw FlowConfigException.BadRequest("the YAML document is empty");
        }
        if (stream.Documents.Count > 1)
        {
            throw FlowConfigException.BadRequest("expected one YAML document, found " + stream.Documents.Count);
        }
        var budget = MaxNodes;
        return Convert(stream.Documents[0].RootNode, ref budget, 0);
    }

    private static JsonNode? Convert(YamlNode node, ref int budget, int depth)
    {
        if (--budget < 0 || depth > 64)
        {
            throw FlowConfigException.BadRequest("the YAML document is too large or too deeply nested");
        }
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is not YamlScalarNode { Value: { } name })
                    {
                        throw FlowConfigException.BadRequest($"line {key.Start.Line}: mapping keys must be plain strings");
                    }
                    if (obj.ContainsKey(name))
                    {
                        throw FlowConfigException.BadRequest($"line {key.Start.Line}: duplicate key {FlowConfigSchema.Quote(name)}");
                    }
                    obj[name] = Convert(value, ref budget, depth + 1);
                }
                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, ref budget, depth + 1));
                }
                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw FlowConfigException.BadRequest($"line {node.Start.Line}: unsupported YAML node");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain || scalar.Tag is { IsEmpty: false, IsNonSpecific: false } tag && tag.Value == "tag:yaml.org,2002:str")
        {
            return JsonValue.Create(text);
        }
        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }
        if (text is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }
        if (text is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }
        if (IntPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }
        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
        {
            return JsonValue.Create(real);
        }
        return JsonValue.Create(text);
    }

    /// <summary>Block-style YAML of a JSON tree; strings that would read back as another type are quoted.</summary>
    public static string Write(JsonNode node)
    {
        var serializer = new SerializerBuilder().WithQuotingNecessaryStrings().DisableAliases().Build();
        return serializer.Serialize(ToPlain(node));
    }

    private static object? ToPlain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => obj.ToDictionary(p => p.Key, p => ToPlain(p.Value), StringComparer.Ordinal),
        JsonArray array => array.Select(ToPlain).ToList(),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            // Whatever CLR type backs the number, its JSON text says what it is.
            JsonValueKind.Number when long.TryParse(value.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
            JsonValueKind.Number => double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
