using System.Text.Json.Nodes;
using Baton.Runs.Sessions;

namespace Baton.Sessions.Tests;

public sealed class NotifyTests
{
    [Theory]
    [InlineData("new-plan", "plan-new")]
    [InlineData("plan-new", "plan-new")]
    [InlineData("plan-whatever", "plan-update")]
    [InlineData("progress", "plan-update")]
    [InlineData("start", "work-start")]
    [InlineData("work-finish", "work-finish")]
    [InlineData("commit", "git-commit")]
    [InlineData("agent-turn-complete", "agent-turn-complete")]
    [InlineData("prompt-voice-final", "prompt-voice")]
    [InlineData("prompt-text", "prompt-text")]
    [InlineData("something-else", "agent-turn-complete")]
    public void PayloadType_MapsToTheFlowEventType(string payloadType, string eventType) =>
        Assert.Equal(eventType, Notify.CanonicalEventType(payloadType));

    [Fact]
    public void Fields_NormaliseThePayloadForWhereAndTemplates()
    {
        var payload = new JsonObject { ["type"] = "agent-turn-complete", ["Turn-Id"] = 42, ["agent_id"] = "x", ["ok"] = true, ["blank"] = " ", ["last-assistant-message"] = "hi" };
        var fields = Notify.Fields("Codex 1", "e1", "agent-turn-complete", DateTimeOffset.Parse("2026-11-30T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture), payload);
        Assert.Equal("agent-turn-complete", (string?)fields["type"]);
        Assert.Equal("Codex 1", (string?)fields["session.id"]);
        Assert.Equal("e1", (string?)fields["notify.event_id"]);
        Assert.Equal("42", (string?)fields["notify.turn-id"]);
        Assert.Equal("true", (string?)fields["ok"]);
        Assert.Equal("hi", (string?)fields["last-assistant-message"]);
        Assert.False(fields.ContainsKey("notify.agent_id"));
        Assert.False(fields.ContainsKey("notify.blank"));
    }

    [Fact]
    public void Progress_IsNormalisedAsGestaltDoes()
    {
        var payload = new JsonObject { ["type"] = "progress", ["plan_file"] = "C:\\plans\\a.org", ["l1"] = "** TODO [#A] Build it", ["task_level"] = "3" };
        var progress = Notify.NormalizeProgress(payload, DateTimeOffset.UnixEpoch)!;
        Assert.Equal(("a.org", "Build it", 3), (progress.PlanFile, progress.L1, progress.TaskLevel));
        Assert.Equal("a.org", (string?)payload["plan_file"]);
        Assert.Null(Notify.NormalizeProgress(new JsonObject { ["type"] = "progress" }, DateTimeOffset.UnixEpoch));
    }
}
