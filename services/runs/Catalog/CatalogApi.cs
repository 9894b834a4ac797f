using Baton.Contracts.Runs.V1;
using Grpc.Core;
using ContractSkill = Baton.Contracts.Runs.V1.Skill;

namespace Baton.Runs.Catalog;

/// <summary><c>GET /api/skills[?agent=]</c> and <c>GET /api/plans</c> (NOTES §1.4) from the config directory.</summary>
public sealed class CatalogApi(ConfigCatalog catalog) : CatalogService.CatalogServiceBase
{
    public override async Task<SkillList> ListSkills(ListSkillsRequest request, ServerCallContext context)
    {
        IEnumerable<Skill> skills = catalog.Skills;
        var agent = request.Agent.Trim();
        if (agent.Length > 0)
        {
            var profile = await catalog.FindAgentFreshAsync(agent, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, "agent not found"));
            var byName = catalog.Skills.GroupBy(s => s.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            skills = profile.Skills.Where(byName.ContainsKey).Select(name => byName[name]);
        }
        var list = new SkillList();
        list.Skills.AddRange(skills.Select(s => new ContractSkill
        {
            Name = s.Name,
            Description = s.Description,
            Path = s.Path,
            License = s.License,
            HasScripts = s.HasScripts,
            HasReferences = s.HasReferences,
            HasAssets = s.HasAssets,
        }));
        return list;
    }

    public override Task<PlanList> ListPlans(ListPlansRequest request, ServerCallContext context)
    {
        var list = new PlanList();
        list.Plans.AddRange(catalog.Plans.Select(ToProto));
        return Task.FromResult(list);
    }

    private static Plan ToProto(PlanDocument plan)
    {
        var proto = new Plan
        {
            Filename = plan.Filename,
            Title = plan.Title,
            Subtitle = plan.Subtitle,
            Date = plan.Date,
            Keywords = plan.Keywords,
            L1Count = plan.L1Count,
            L2Count = plan.L2Count,
            PriorityA = plan.PriorityA,
            PriorityB = plan.PriorityB,
            PriorityC = plan.PriorityC,
        };
        proto.Headings.AddRange(plan.Headings.Select(ToProto));
        return proto;
    }

    private static Contracts.Runs.V1.PlanHeading ToProto(PlanHeading heading)
    {
        var proto = new Contracts.Runs.V1.PlanHeading
        {
            Level = heading.Level,
            Keyword = heading.Keyword,
            Priority = heading.Priority,
            Text = heading.Text,
            Body = heading.Body,
        };
        proto.Children.AddRange(heading.Children.Select(ToProto));
        return proto;
    }
}
