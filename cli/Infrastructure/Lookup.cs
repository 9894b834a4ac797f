using Baton.Contracts.Runs.V1;

namespace Baton.Cli.Infrastructure;

/// <summary>Lets people name things the way they see them: a full id, a unique id prefix, or a unique name.</summary>
public static class Lookup
{
    public static async Task<Project> ProjectAsync(CliContext context, string reference)
    {
        var projects = (await context.Baton.Runs.ListProjectsAsync(new ListProjectsRequest(), cancellationToken: context.Cancellation)).Projects;
        return Pick(projects, reference, p => p.Id, p => p.Name, "project", "baton projects ls");
    }

    public static async Task<Agent> AgentAsync(CliContext context, string reference)
    {
        var agents = (await context.Baton.Runs.ListAgentsAsync(new ListAgentsRequest(), cancellationToken: context.Cancellation)).Agents;
        return Pick(agents, reference, a => a.Id, a => a.Name, "agent", "baton agents ls");
    }

    /// <summary>A run id, or a unique prefix of one (like a short git sha).</summary>
    public static async Task<string> RunIdAsync(CliContext context, string reference)
    {
        if (Guid.TryParse(reference, out _))
        {
            return reference;
        }
        var runs = (await context.Baton.Runs.ListRunsAsync(new ListRunsRequest(), cancellationToken: context.Cancellation)).Runs;
        return Pick(runs, reference, r => r.Id, _ => null, "run", "baton runs ls").Id;
    }

    public static T Pick<T>(IEnumerable<T> items, string reference, Func<T, string> id, Func<T, string?> name, string kind, string listCommand)
    {
        var all = items.ToList();
        var exact = all.FindIndex(i => id(i) == reference);
        if (exact >= 0)
        {
            return all[exact];
        }
        var named = all.Where(i => name(i) == reference).ToList();
        if (named.Count == 1)
        {
            return named[0];
        }
        if (named.Count > 1)
        {
            throw CliException.Usage($"{named.Count} {kind}s are named '{reference}'; give the id instead (see '{listCommand}')");
        }
        var prefixed = reference.Length >= 4 ? all.Where(i => id(i).StartsWith(reference, StringComparison.OrdinalIgnoreCase)).ToList() : [];
        return prefixed.Count switch
        {
            1 => prefixed[0],
            0 => throw CliException.NotFound($"no {kind} '{reference}'; '{listCommand}' lists them"),
            _ => throw CliException.Usage($"'{reference}' matches {prefixed.Count} {kind}s; give more of the id"),
        };
    }
}
