using System.Text.Json.Nodes;
using Baton.Runs.Flows;

namespace Baton.Runs.Tests.Gestalt;

/// <summary>Units of the flow engine: schema, YAML, <c>where</c> semantics and templates (NOTES §1.5).</summary>
public sealed class FlowUnitTests
{
    [Theory]
    [InlineData("version: 1\nflows: [ {id: a, \n")]
    [InlineData("id: broken\nevent_type: [unclosed\n")]
    [InlineData("a: b\n  c: d\n")]
    [InlineData("\t- x")]
    [InlineData("{{{")]
    [InlineData("- &a [*a]")]
    [InlineData("---\na: 1\n---\nb: 2\n")]
    public void BadYaml_IsABadRequest(string yaml)
    {
        var ex = Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseBundle(YamlTree.Parse(yaml)));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public void AliasBomb_IsRefused()
    {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + string.Concat(Enumerable.Range(1, 9).Select(i => $"{(char)('a' + i)}: &{(char)('a' + i)} [*{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}, *{(char)('a' + i - 1)}]\n"));
        var ex = Assert.Throws<FlowConfigException>(() => YamlTree.Parse(yaml));
        Assert.Equal(400, ex.Status);
    }

    [Theory]
    [InlineData("version: [1\nflows: {{{\n\t- :")]
    [InlineData("{a: 1, a: 2}")]
    [InlineData("? [a]\n: 1\n? [a]\n: 2\n")]
    public void MalformedYaml_ThatTheParserRejectsWithoutAYamlException_IsStill400(string yaml)
    {
        var ex = Assert.Throws<FlowConfigException>(() => YamlTree.Parse(yaml));
        Assert.Equal(400, ex.Status);
        Assert.Contains("YAML", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scalars_FollowTheCoreSchema_AndQuotedStaysText()
    {
        var tree = YamlTree.Parse("a: true\nb: '5'\nc: 5\nd: ~\ne: hello\nf: 1.5\n")!;
        Assert.True((bool)tree["a"]!);
        Assert.Equal("5", (string?)tree["b"]);
        Assert.Equal(5, (long)tree["c"]!);
        Assert.Null(tree["d"]);
        Assert.Equal("hello", (string?)tree["e"]);
        Assert.Equal(1.5, (double)tree["f"]!);
    }

    [Fact]
    public void Bundle_RoundTripsThroughYaml()
    {
        var config = FlowConfigSchema.ParseBundle(YamlTree.Parse("""
            version: 1
            flows:
              - id: Odd Id!
                label: "true"
                event_type: file-change
                where: {path: "123", Op: modify}
                bindings:
                  - activity_id: send_to_terminal
                    config: {message_template: "yes", include_terminal_output: false, output_tail_lines: 7, target_agent_name: Coder}
            """));
        var bundle = new JsonObject { ["version"] = 1, ["flows"] = new JsonArray([.. config.Flows.Select(f => (JsonNode)FlowConfigSchema.FlowJson(f))]) };
        var again = FlowConfigSchema.ParseBundle(YamlTree.Parse(YamlTree.Write(bundle)));
        Assert.Equal(FlowConfigSchema.ToJson(config).ToJsonString(), FlowConfigSchema.ToJson(again).ToJsonString());
        Assert.Equal("modify", again.Flows[0].Trigger.Where["op"]);
        Assert.Equal("123", again.Flows[0].Trigger.Where["path"]);
        Assert.Equal("odd-id-", FlowConfigSchema.NormalizeId("Odd Id!"));
    }

    [Theory]
    [InlineData("Coder", "Coder 1", true)]
    [InlineData("Coder", "Coder 12", true)]
    [InlineData("Coder 1", "Coder 1", true)]
    [InlineData("Coder", "Coder", true)]
    [InlineData("Coder", "Coderx 1", false)]
    [InlineData("Coder", "Coder one", false)]
    [InlineData("Coder 1", "Coder 2", false)]
    public void SessionId_MatchesAnAgentNameAndItsNumberedSessions(string expected, string actual, bool matches) =>
        Assert.Equal(matches, FlowMatching.SessionMatches(expected, actual));

    [Fact]
    public void Where_IsAnAndOfExactValues_WithWildcards()
    {
        var trigger = new FlowTrigger("t", "", "file-change", new Dictionary<string, string> { ["path"] = "README.md", ["op"] = "*" });
        var evt = new FlowEvent("file-change", new Dictionary<string, string> { ["path"] = "docs/README.md", ["full_path"] = "/w/docs/README.md" }, "e1");
        Assert.False(FlowMatching.Matches(trigger, evt));
        Assert.True(FlowMatching.Matches(trigger, evt with { Fields = new Dictionary<string, string> { ["path"] = "README.md" } }));
        Assert.True(FlowMatching.Matches(trigger with { Where = new Dictionary<string, string> { ["path"] = "/w/docs/README.md" } }, evt));
        Assert.False(FlowMatching.Matches(trigger, evt with { Type = "git-commit", Fields = new Dictionary<string, string> { ["path"] = "README.md" } }));
        var notify = new FlowTrigger("n", "", "plan-new", new Dictionary<string, string> { ["session.id"] = "Codex" });
        Assert.True(FlowMatching.Matches(notify, new FlowEvent("plan-new", new Dictionary<string, string> { ["session_id"] = "Codex 3" }, "e2")));
        Assert.False(FlowMatching.Matches(notify, new FlowEvent("plan-new", new Dictionary<string, string>(), "e3")));
    }

    [Fact]
    public void Templates_ReplaceTokens_AndUnknownOnesBecomeEmpty()
    {
        Assert.Equal("Changed a.txt by  (e1)", FlowMatching.Render("Changed {{path}} by {{ who }} ({{event_id}})",
            t => t switch { "path" => "a.txt", "event_id" => "e1", _ => null }));
        Assert.True(FlowMatching.Uses("x {{ output_tail }}", "output_tail"));
        var fields = FlowEvent.Flatten(JsonNode.Parse("""{"session":{"id":"Coder 1"},"notify":{"n":2,"tags":["a"]}}""")!.AsObject());
        Assert.Equal("Coder 1", fields["session.id"]);
        Assert.Equal("2", fields["notify.n"]);
        Assert.Equal("[\"a\"]", fields["notify.tags"]);
    }

    [Fact]
    public void JsonConfig_IsStrict()
    {
        Assert.Equal(400, Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseJson("""{"version":1,"version":1}""")).Status);
        Assert.Equal(400, Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseJson("""{"triggers":[{"id":"a","event_type":"x","when":{}}]}""")).Status);
        Assert.Equal(400, Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseJson("""{"triggers":[],"bindings_by_trigger_id":{"ghost":[]}}""")).Status);
        Assert.Equal(409, Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseJson("""{"triggers":[{"id":"a","event_type":"x"},{"id":"a","event_type":"y"}]}""")).Status);
        Assert.Equal(400, Assert.Throws<FlowConfigException>(() => FlowConfigSchema.ParseJson("""
            {"triggers":[{"id":"a","event_type":"x"}],"bindings_by_trigger_id":{"a":[{"activity_id":"post_webhook","config":{"url":"file:///etc/passwd"}}]}}
            """)).Status);
        var ok = FlowConfigSchema.ParseJson("""
            {"version":1,"triggers":[{"id":"a","label":"A","event_type":"git-commit","where":{}}],
             "bindings_by_trigger_id":{"a":[{"activity_id":"post_webhook","config":{"url":"https://example.test/x","headers_json":"{\"A\":\"b\"}"}}]},"storage_path":"/ignored"}
            """);
        Assert.Single(ok.Flows);
    }
}
