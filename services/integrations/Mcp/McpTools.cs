using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Integrations.Api;
using Baton.Integrations.Catalog;
using Baton.Integrations.Configuration;
using Baton.Integrations.Invocation;
using Baton.Integrations.Security;
using ModelContextProtocol.Protocol;

namespace Baton.Integrations.Mcp;

/// <summary>
/// The tools <c>/mcp</c> offers a caller: one per allowed integration operation (named
/// <c>mcp_tool_prefix</c> + operation, else <c>integration_operation</c>; input schema from its
/// parameters) run with the caller's own stored credentials, plus Baton's own tools.
/// </summary>
public sealed partial class McpTools(SettingsProvider settings, OperationInvoker invoker, BatonTools baton, IHttpContextAccessor accessor)
{
    private Caller CurrentCaller() => accessor.HttpContext is { } http ? Caller.From(http) : Caller.Anonymous;

    public ValueTask<ListToolsResult> ListAsync(CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        var caller = CurrentCaller();
        var result = new ListToolsResult { Tools = [] };
        foreach (var (name, integration, operation) in IntegrationTools(caller))
        {
            result.Tools.Add(new Tool
            {
                Name = name,
                Title = $"{integration.DisplayName}: {operation.Title}",
                Description = operation.Description.Length > 0 ? operation.Description : $"{operation.Method} {operation.Path} on {integration.DisplayName}",
                InputSchema = JsonSerializer.SerializeToElement(CatalogMapper.InputSchema(operation)),
                Annotations = new ToolAnnotations
                {
                    ReadOnlyHint = operation.ReadOnly,
                    DestructiveHint = operation.Method == "DELETE",
                    IdempotentHint = operation.Method is "GET" or "HEAD" or "PUT" or "DELETE",
                    OpenWorldHint = true,
                },
            });
        }
        foreach (var tool in baton.Tools)
        {
            result.Tools.Add(tool);
        }
        return ValueTask.FromResult(result);
    }

    public async ValueTask<CallToolResult> CallAsync(CallToolRequestParams request, CancellationToken cancellationToken)
    {
        var caller = CurrentCaller();
        var arguments = request.Arguments?.ToDictionary(kv => kv.Key, kv => JsonNode.Parse(kv.Value.GetRawText()), StringComparer.Ordinal)
            ?? new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        try
        {
            if (baton.Handles(request.Name))
            {
                return Text(await baton.CallAsync(caller, request.Name, arguments, cancellationToken), isError: false);
            }
            var match = IntegrationTools(caller).FirstOrDefault(t => t.Name == request.Name);
            if (match.Operation is null)
            {
                return Text($"unknown tool \"{request.Name}\"", isError: true);
            }
            var result = await invoker.InvokeAsync(caller, match.Integration.Name, match.Operation.Id, arguments, cancellationToken);
            var body = System.Text.Encoding.UTF8.GetString(result.Body);
            return Text(result.Status >= 400 ? $"upstream answered {result.Status}: {body}" : body, isError: result.Status >= 400);
        }
        catch (IntegrationException ex)
        {
            return Text(ex.Message, isError: true);
        }
    }

    private IEnumerable<(string Name, IntegrationModel Integration, OperationModel Operation)> IntegrationTools(Caller caller)
    {
        foreach (var integration in settings.Current.Integrations.Values.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            if (!caller.MayUse(integration.Name))
            {
                continue;
            }
            var prefix = integration.McpToolPrefix.Length > 0 ? integration.McpToolPrefix : integration.Name + "_";
            foreach (var operation in integration.Operations)
            {
                yield return (ToolName(prefix + operation.Id), integration, operation);
            }
        }
    }

    private static string ToolName(string name)
    {
        var safe = UnsafeToolCharacters().Replace(name, "_");
        return safe.Length <= 64 ? safe : safe[..64];
    }

    private static CallToolResult Text(string text, bool isError) => new()
    {
        Content = [new TextContentBlock { Text = text }],
        IsError = isError,
    };

    [GeneratedRegex("[^a-zA-Z0-9_-]")]
    private static partial Regex UnsafeToolCharacters();
}
