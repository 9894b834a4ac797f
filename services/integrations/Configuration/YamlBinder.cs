using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Baton.Integrations.Configuration;

/// <summary>A configuration error that names the file, line and key, so startup stops with a message a user can act on.</summary>
public sealed class ConfigurationException(string message) : Exception(message);

/// <summary>
/// Binds a YAML document onto the <see cref="IntegrationsFile"/> classes strictly: every key must
/// be a declared property (snake_case), every scalar must convert, and the line of every key is
/// remembered so later reference checks can point at it too.
/// </summary>
public sealed partial class YamlBinder(string fileName)
{
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, int> Lines => _lines;

    /// <summary><c>${ENV}</c> is replaced before parsing; when ENV is unset, the contents of the file named by <c>ENV_FILE</c>.</summary>
    public static string ExpandEnvironment(string text, string fileName, Func<string, string?> getEnvironment)
    {
        var builder = new StringBuilder(text.Length);
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (lineNumber > 1)
            {
                builder.Append('\n');
            }
            builder.Append(EnvReference().Replace(line, match =>
            {
                var name = match.Groups[1].Value;
                if (getEnvironment(name) is { } value)
                {
                    return value;
                }
                if (getEnvironment(name + "_FILE") is { Length: > 0 } path)
                {
                    try
                    {
                        return File.ReadAllText(path).TrimEnd('\r', '\n');
                    }
                    catch (IOException ex)
                    {
                        throw new ConfigurationException($"{fileName}:{lineNumber}: ${{{name}}}: cannot read {name}_FILE ({path}): {ex.Message}");
                    }
                }
                throw new ConfigurationException($"{fileName}:{lineNumber}: ${{{name}}} is not set (set {name}, or {name}_FILE to a file holding the value)");
            }));
        }
        return builder.ToString();
    }

    public T Bind<T>(string yaml) where T : new()
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new ConfigurationException($"{fileName}:{ex.Start.Line}: invalid YAML: {ex.InnerException?.Message ?? ex.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return new T();
        }
        return (T)BindNode(stream.Documents[0].RootNode, typeof(T), "")!;
    }

    public int LineOf(string path) => _lines.TryGetValue(path, out var line) ? line : 0;

    private object? BindNode(YamlNode node, Type type, string path)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        if (node is YamlScalarNode { Style: ScalarStyle.Plain } plain && (plain.Value is null or "~" or "null" or ""))
        {
            return nullable is not null || !type.IsValueType ? null : Activator.CreateInstance(type);
        }
        type = nullable ?? type;
        if (type == typeof(string) || type == typeof(int) || type == typeof(bool) || type == typeof(long))
        {
            return BindScalar(node, type, path);
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (node is not YamlMappingNode mapping)
            {
                throw Error(node, path, "expected a mapping");
            }
            var valueType = type.GetGenericArguments()[1];
            var dictionary = (IDictionary)Activator.CreateInstance(type, StringComparer.Ordinal)!;
            foreach (var (keyNode, valueNode) in mapping.Children)
            {
                var key = ((YamlScalarNode)keyNode).Value ?? "";
                var childPath = Join(path, key);
                _lines[childPath] = (int)keyNode.Start.Line;
                if (dictionary.Contains(key))
                {
                    throw Error(keyNode, childPath, "duplicate key");
                }
                dictionary[key] = BindNode(valueNode, valueType, childPath);
            }
            return dictionary;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            if (node is not YamlSequenceNode sequence)
            {
                throw Error(node, path, "expected a list");
            }
            var itemType = type.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(type)!;
            var index = 0;
            foreach (var item in sequence.Children)
            {
                var itemPath = $"{path}[{index++}]";
                _lines[itemPath] = (int)item.Start.Line;
                list.Add(BindNode(item, itemType, itemPath));
            }
            return list;
        }
        if (node is not YamlMappingNode objectNode)
        {
            throw Error(node, path, "expected a mapping");
        }
        var target = Activator.CreateInstance(type)!;
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .ToDictionary(p => SnakeCase(p.Name), StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in objectNode.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var childPath = Join(path, key);
            if (!properties.TryGetValue(key, out var property))
            {
                var known = string.Join(", ", properties.Keys.Order(StringComparer.Ordinal));
                throw Error(keyNode, childPath, $"unknown key \"{key}\" (known keys here: {known})");
            }
            if (!seen.Add(key))
            {
                throw Error(keyNode, childPath, "duplicate key");
            }
            _lines[childPath] = (int)keyNode.Start.Line;
            property.SetValue(target, BindNode(valueNode, property.PropertyType, childPath));
        }
        return target;
    }

    private object BindScalar(YamlNode node, Type type, string path)
    {
        if (node is not YamlScalarNode scalar)
        {
            throw Error(node, path, $"expected a {Describe(type)}");
        }
        var value = scalar.Value ?? "";
        if (type == typeof(string))
        {
            return value;
        }
        if (type == typeof(bool))
        {
            return value switch
            {
                "true" or "True" or "TRUE" or "yes" or "on" => true,
                "false" or "False" or "FALSE" or "no" or "off" => false,
                _ => throw Error(node, path, $"expected true or false, got \"{Truncate(value)}\""),
            };
        }
        if (type == typeof(int) && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }
        if (type == typeof(long) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var big))
        {
            return big;
        }
        throw Error(node, path, $"expected a {Describe(type)}, got \"{Truncate(value)}\"");
    }

    private ConfigurationException Error(YamlNode node, string path, string message) =>
        new($"{fileName}:{node.Start.Line}: {(path.Length == 0 ? "(root)" : path)}: {message}");

    public ConfigurationException Error(string path, string message)
    {
        var line = LineOf(path);
        return new ConfigurationException(line > 0 ? $"{fileName}:{line}: {path}: {message}" : $"{fileName}: {path}: {message}");
    }

    private static string Describe(Type type) => type == typeof(bool) ? "boolean" : type == typeof(string) ? "string" : "number";

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    internal static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex EnvReference();
}
