using Baton.Runs.Catalog;

namespace Baton.Sessions.Tests;

public sealed class CatalogParsingTests
{
    [Fact]
    public void AgentProfile_ReadsGestaltFields_WithDefaults()
    {
        var profile = AgentProfileParser.Parse("coder", "/x/coder.toml",
            "name = \"Coder\"\nshell = \"codex -m o3\"\ncli_type = \"codex\"\nprompt = [\"coder\", \" \", \"review\"]\nskills = [\"git\"]\nmodel = \"o3\"\napproval_policy = \"never\"\n");
        Assert.Equal("coder", profile.Id);
        Assert.Equal("Coder", profile.Name);
        Assert.Equal("codex -m o3", profile.Shell);
        Assert.Equal("cli", profile.Interface);
        Assert.Equal(["coder", "review"], profile.Prompts);
        Assert.True(profile.Singleton);
        Assert.False(profile.Hidden);
        Assert.Equal("never", profile.Extra["approval_policy"]);

        var single = AgentProfileParser.Parse("s", "/x/s.toml", "name = \"S\"\nshell = \"claude\"\nprompt = \"hello\"\nsingleton = false\nhidden = true\n");
        Assert.Equal(["hello"], single.Prompts);
        Assert.Equal("claude", single.CliType);
        Assert.False(single.Singleton);
        Assert.True(single.Hidden);
    }

    [Theory]
    [InlineData("name = \"A\"\n\nshell = = 1\n", 3, "Unexpected")]
    [InlineData("shell = \"cat\"\n", null, "agent name is required")]
    [InlineData("name = \"A\"\n", null, "shell or cli_type is required")]
    [InlineData("name = \"A\"\nshell = \"cat\"\nsingleton = \"yes\"\n", 3, "singleton must be true or false")]
    [InlineData("name = \"A\"\nshell = \"cat\"\nskills = \"git\"\n", 3, "skills must be an array")]
    [InlineData("name = \"A\"\nshell = \"cat\"\ninterface = \"gui\"\n", 3, "interface must be")]
    [InlineData("name = 5\nshell = \"cat\"\n", 1, "name must be a string")]
    public void AgentProfile_Malformed_SaysWhatAndWhichLine(string toml, int? line, string message)
    {
        var error = Assert.Throws<ConfigFileException>(() => AgentProfileParser.Parse("a", "/x/a.toml", toml));
        Assert.Contains(message, error.Message);
        if (line is not null)
        {
            Assert.Equal(line, error.Line);
        }
    }

    [Fact]
    public void Plan_ParsesHeadingsKeywordsPrioritiesAndCounts()
    {
        var plan = PlanParser.Parse("2026-01-26-sample.org",
            "#+TITLE: Sample Plan\n#+SUBTITLE: Example metadata\n#+DATE: 2026-01-26\n#+KEYWORDS: plans,test\n\n"
            + "* WIP [#A] First L1\nThis is the first line of L1 body.\nAnother line.\n\n** TODO [#B] L2 One\nDetails for L2 one.\n*** deeper\nkept in the body\n\n"
            + "** DONE [#C] L2 Two\nMore text.\n\n* TODO Second L1\nSecond L1 body text.\n");
        Assert.Equal("Sample Plan", plan.Title);
        Assert.Equal("Example metadata", plan.Subtitle);
        Assert.Equal("2026-01-26", plan.Date);
        Assert.Equal("plans,test", plan.Keywords);
        Assert.Equal(2, plan.L1Count);
        Assert.Equal(2, plan.L2Count);
        Assert.Equal((0, 1, 1), (plan.PriorityA, plan.PriorityB, plan.PriorityC));
        var first = plan.Headings[0];
        Assert.Equal((1, "WIP", "A", "First L1"), (first.Level, first.Keyword, first.Priority, first.Text));
        Assert.Equal("This is the first line of L1 body.\nAnother line.", first.Body);
        Assert.Equal("Details for L2 one.\n*** deeper\nkept in the body", first.Children[0].Body);
        Assert.Equal(("DONE", "C", "L2 Two"), (first.Children[1].Keyword, first.Children[1].Priority, first.Children[1].Text));
        Assert.Equal(("TODO", "", "Second L1"), (plan.Headings[1].Keyword, plan.Headings[1].Priority, plan.Headings[1].Text));
    }

    [Fact]
    public void Plan_InvalidUtf8_IsReportedWithItsLine()
    {
        var error = Assert.Throws<ConfigFileException>(() => PlanParser.Parse("p.org", [.. "* A\n* B\n"u8, 0xff, 0xfe]));
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void Skill_ReadsFrontMatter_AndFolders()
    {
        using var dir = new Infrastructure.TempDir("bt-skill-");
        Directory.CreateDirectory(Path.Combine(dir.Path, "assets"));
        var skill = SkillParser.Parse(dir.Path, "---\nname: pdf\ndescription: Read PDFs\nlicense: Apache-2.0\n---\n# PDF\n");
        Assert.Equal(("pdf", "Read PDFs", "Apache-2.0"), (skill.Name, skill.Description, skill.License));
        Assert.Equal((false, false, true), (skill.HasScripts, skill.HasReferences, skill.HasAssets));

        var unnamed = SkillParser.Parse(dir.Path, "---\ndescription: x\n---\n");
        Assert.Equal(Path.GetFileName(dir.Path), unnamed.Name);

        Assert.Equal(1, Assert.Throws<ConfigFileException>(() => SkillParser.Parse(dir.Path, "# no front matter\n")).Line);
        // The parser notices the unclosed sequence where the front matter ends (line 4, the closing ---).
        Assert.Equal(4, Assert.Throws<ConfigFileException>(() => SkillParser.Parse(dir.Path, "---\nname: a\ndescription: [unclosed\n---\n")).Line);
    }
}
