using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Baton.Chat.Sandbox;
using Microsoft.Extensions.FileSystemGlobbing;

namespace Baton.Chat.Tools;

internal sealed class ReadTool(ChatOptions options) : IAgentTool
{
    public string Name => "read";
    public string Description => "Read a text file in the workspace. Lines are numbered from 1; use offset and limit for long files.";
    public bool ReadsOnly => true;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"path":{"type":"string","description":"File path, relative to the workspace"},
        "offset":{"type":"integer","description":"First line to return (1-based)"},"limit":{"type":"integer","description":"Number of lines"}},"required":["path"]}
        """);

    public async Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        if (!WorkspacePaths.TryResolve(context.Workspace, Args.String(arguments, "path") ?? "", out var path, out var error))
        {
            return ToolOutcome.Error(error);
        }
        if (Directory.Exists(path))
        {
            return ToolOutcome.Error($"{Args.String(arguments, "path")} is a directory; use glob or bash to list it");
        }
        if (!File.Exists(path))
        {
            return ToolOutcome.Error($"{Args.String(arguments, "path")} does not exist");
        }
        var offset = Math.Max(1, Args.Int(arguments, "offset") ?? 1);
        var limit = Math.Clamp(Args.Int(arguments, "limit") ?? 2000, 1, 100_000);
        var text = new StringBuilder();
        var number = 0;
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        string? line;
        while ((line = await reader.ReadLineAsync(cancellationToken)) is not null)
        {
            number++;
            if (line.Contains('\0'))
            {
                return ToolOutcome.Error($"{Args.String(arguments, "path")} is a binary file");
            }
            if (number < offset)
            {
                continue;
            }
            if (number >= offset + limit || text.Length > options.ToolOutputLimit)
            {
                text.Append($"[more lines follow; read on with offset {number}]\n");
                break;
            }
            text.Append(number.ToString().PadLeft(6)).Append('\t').Append(line).Append('\n');
        }
        return new ToolOutcome(text.ToString(), false);
    }
}

internal sealed class WriteTool : IAgentTool
{
    public string Name => "write";
    public string Description => "Create or overwrite a file in the workspace with the given content (parent folders are created).";
    public bool ReadsOnly => false;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"path":{"type":"string","description":"File path, relative to the workspace"},
        "content":{"type":"string","description":"The complete new content"}},"required":["path","content"]}
        """);

    public async Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        if (!WorkspacePaths.TryResolve(context.Workspace, Args.String(arguments, "path") ?? "", out var path, out var error))
        {
            return ToolOutcome.Error(error);
        }
        var content = Args.String(arguments, "content");
        if (content is null)
        {
            return ToolOutcome.Error("content is required");
        }
        if (Directory.Exists(path))
        {
            return ToolOutcome.Error($"{Args.String(arguments, "path")} is a directory");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, content, cancellationToken);
        return new ToolOutcome($"wrote {Encoding.UTF8.GetByteCount(content)} bytes to {WorkspacePaths.Relative(context.Workspace, path)}", false);
    }
}

internal sealed class EditTool : IAgentTool
{
    public string Name => "edit";
    public string Description => "Replace old_string with new_string in a workspace file. old_string must occur exactly once unless replace_all is true.";
    public bool ReadsOnly => false;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"path":{"type":"string"},"old_string":{"type":"string"},"new_string":{"type":"string"},
        "replace_all":{"type":"boolean"}},"required":["path","old_string","new_string"]}
        """);

    public async Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        if (!WorkspacePaths.TryResolve(context.Workspace, Args.String(arguments, "path") ?? "", out var path, out var error))
        {
            return ToolOutcome.Error(error);
        }
        var oldText = Args.String(arguments, "old_string");
        var newText = Args.String(arguments, "new_string");
        if (string.IsNullOrEmpty(oldText) || newText is null)
        {
            return ToolOutcome.Error("old_string (non-empty) and new_string are required");
        }
        if (!File.Exists(path))
        {
            return ToolOutcome.Error($"{Args.String(arguments, "path")} does not exist");
        }
        var text = await File.ReadAllTextAsync(path, cancellationToken);
        var count = 0;
        for (var at = text.IndexOf(oldText, StringComparison.Ordinal); at >= 0; at = text.IndexOf(oldText, at + oldText.Length, StringComparison.Ordinal))
        {
            count++;
        }
        if (count == 0)
        {
            return ToolOutcome.Error("old_string was not found in the file");
        }
        if (count > 1 && !Args.Bool(arguments, "replace_all"))
        {
            return ToolOutcome.Error($"old_string occurs {count} times; make it unique or set replace_all");
        }
        await File.WriteAllTextAsync(path, text.Replace(oldText, newText, StringComparison.Ordinal), cancellationToken);
        return new ToolOutcome($"replaced {count} occurrence(s) in {WorkspacePaths.Relative(context.Workspace, path)}", false);
    }
}

internal sealed class BashTool(CommandRunner runner) : IAgentTool
{
    public string Name => "bash";
    public string Description => "Run a bash command in the workspace and return its combined output and exit code. Commands time out; background processes are killed when the command ends.";
    public bool ReadsOnly => false;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"command":{"type":"string","description":"The bash command line"}},"required":["command"]}
        """);

    public async Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        var command = Args.String(arguments, "command");
        if (string.IsNullOrWhiteSpace(command))
        {
            return ToolOutcome.Error("command is required");
        }
        var result = await runner.RunAsync(command, context.Workspace, context.Sandbox, cancellationToken);
        var text = result.Output.Length == 0 ? $"(no output)\n[exit code {result.ExitCode}]" : $"{result.Output.TrimEnd('\n')}\n[exit code {result.ExitCode}]";
        return new ToolOutcome(text, result.ExitCode != 0);
    }
}

internal sealed class GlobTool : IAgentTool
{
    public string Name => "glob";
    public string Description => "List workspace files matching a glob pattern such as **/*.cs.";
    public bool ReadsOnly => true;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"pattern":{"type":"string"},"path":{"type":"string","description":"Folder to search, relative to the workspace"}},"required":["pattern"]}
        """);

    public Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        var pattern = Args.String(arguments, "pattern");
        if (string.IsNullOrWhiteSpace(pattern))
        {
            return Task.FromResult(ToolOutcome.Error("pattern is required"));
        }
        if (!WorkspacePaths.TryResolve(context.Workspace, Args.String(arguments, "path") ?? ".", out var root, out var error))
        {
            return Task.FromResult(ToolOutcome.Error(error));
        }
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(pattern);
        var files = matcher.GetResultsInFullPath(root)
            .Where(f => WorkspacePaths.IsUnder(WorkspacePaths.Canonicalize(f), context.Workspace))
            .Select(f => WorkspacePaths.Relative(context.Workspace, f))
            .Order(StringComparer.Ordinal)
            .Take(1000)
            .ToList();
        return Task.FromResult(new ToolOutcome(files.Count == 0 ? "no files match" : string.Join('\n', files), false));
    }
}

internal sealed class GrepTool(ChatOptions options) : IAgentTool
{
    public string Name => "grep";
    public string Description => "Search workspace files for a regular expression; answers path:line:text for each match.";
    public bool ReadsOnly => true;
    public JsonElement Schema { get; } = Args.Schema("""
        {"type":"object","properties":{"pattern":{"type":"string","description":".NET regular expression"},
        "path":{"type":"string"},"glob":{"type":"string","description":"Only files matching this glob, e.g. **/*.py"}},"required":["pattern"]}
        """);

    public async Task<ToolOutcome> InvokeAsync(ToolContext context, JsonElement arguments, CancellationToken cancellationToken)
    {
        Regex regex;
        try
        {
            regex = new Regex(Args.String(arguments, "pattern") ?? "", RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException ex)
        {
            return ToolOutcome.Error($"invalid pattern: {ex.Message}");
        }
        if (!WorkspacePaths.TryResolve(context.Workspace, Args.String(arguments, "path") ?? ".", out var root, out var error))
        {
            return ToolOutcome.Error(error);
        }
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(Args.String(arguments, "glob") ?? "**/*");
        matcher.AddExclude("**/.git/**");
        var files = File.Exists(root) ? [root] : matcher.GetResultsInFullPath(root);
        var result = new StringBuilder();
        var matches = 0;
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            if (!WorkspacePaths.IsUnder(WorkspacePaths.Canonicalize(file), context.Workspace) || new FileInfo(file).Length > 5_000_000)
            {
                continue;
            }
            var number = 0;
            foreach (var line in await File.ReadAllLinesAsync(file, cancellationToken))
            {
                number++;
                try
                {
                    if (!regex.IsMatch(line))
                    {
                        continue;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    return ToolOutcome.Error("the pattern took too long to match");
                }
                result.Append(WorkspacePaths.Relative(context.Workspace, file)).Append(':').Append(number).Append(':').Append(line).Append('\n');
                if (++matches >= 500 || result.Length > options.ToolOutputLimit)
                {
                    result.Append("[more matches not shown]\n");
                    return new ToolOutcome(result.ToString(), false);
                }
            }
        }
        return new ToolOutcome(matches == 0 ? "no matches" : result.ToString(), false);
    }
}
