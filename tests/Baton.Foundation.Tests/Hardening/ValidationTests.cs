using System.Text;
using System.Text.Json.Nodes;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Security;
using Baton.ServiceDefaults.Validation;
using Grpc.Core;

namespace Baton.Foundation.Tests.Hardening;

public sealed class StrictJsonTests
{
    [Theory]
    [InlineData("""{"a":1,"a":2}""", "duplicate key")]
    [InlineData("""{"outer":{"k":true,"k":false}}""", "duplicate key")]
    [InlineData("""{"name":"\ud800"}""", "invalid JSON string")]
    [InlineData("""{"\udc00":1}""", "invalid JSON string")]
    [InlineData("""{"name":"a""", "invalid JSON")]
    [InlineData("""{"a":1} {"b":2}""", "invalid JSON")]
    [InlineData("""{"a":1,}""", "invalid JSON")]
    [InlineData("// comment\n{}", "invalid JSON")]
    public void Validate_RefusesWhatIsNotStrictJson(string json, string expected)
    {
        var problem = StrictJson.Validate(Encoding.UTF8.GetBytes(json));
        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}""")]
    [InlineData("""{"emoji":"\ud83d\udca5","plain":"é"}""")]
    [InlineData("""[1,"two",null,true]""")]
    public void Validate_AcceptsStrictJson(string json) => Assert.Null(StrictJson.Validate(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Validate_RefusesInvalidUtf8() =>
        Assert.NotNull(StrictJson.Validate([(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']));

    [Fact]
    public void Validate_RefusesNestingDeeperThan64() =>
        Assert.NotNull(StrictJson.Validate(Encoding.UTF8.GetBytes(new string('[', 65) + new string(']', 65))));

    [Fact]
    public void ParseObject_ThrowsInvalidArgumentWithTheReason()
    {
        var ex = Assert.Throws<RpcException>(() => StrictJson.ParseObject("""{"x":1,"x":1}"""));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("duplicate key \"x\"", ex.Status.Detail, StringComparison.Ordinal);
    }
}

public sealed class InputTests
{
    [Fact]
    public void Require_RefusesATooLongValue_QuotingOnlyAPrefix()
    {
        var huge = new string('n', 5_000_000);
        var ex = Assert.Throws<RpcException>(() => Input.Require(huge, "name"));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("name is too long (5,000,000 characters; at most 256)", ex.Status.Detail, StringComparison.Ordinal);
        Assert.True(ex.Status.Detail.Length < 300, ex.Status.Detail);
    }

    [Theory]
    [InlineData("a\0b")]
    [InlineData("line\nbreak")]
    [InlineData("evil\u202Etxt.exe")]
    public void Require_RefusesControlAndBidiCharacters(string value) =>
        Assert.Equal(StatusCode.InvalidArgument, Assert.Throws<RpcException>(() => Input.Require(value, "name")).StatusCode);

    [Fact]
    public void Require_RefusesALoneSurrogate()
    {
        // Built at run time: attribute arguments cannot carry a lone surrogate (the compiler replaces it).
        var value = "lone" + (char)0xD800;
        Assert.Contains("lone UTF-16 surrogate", Assert.Throws<RpcException>(() => Input.Require(value, "name")).Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_AllowsNewlinesButNotNul()
    {
        Assert.Equal("two\nlines\ttab", Input.Text("two\nlines\ttab", "task"));
        Assert.Throws<RpcException>(() => Input.Text("nul\0", "task"));
    }

    [Fact]
    public void Quote_EscapesAndCuts()
    {
        Assert.Equal("\"a\\u0000b\\u202e\\\"\"", Input.Quote("a\0b\u202E\""));
        var quoted = Input.Quote(new string('x', 1000));
        Assert.StartsWith("\"" + new string('x', Limits.Quote) + "\"… (1,000 characters)", quoted, StringComparison.Ordinal);
    }
}

public sealed class SecretsTests
{
    [Fact]
    public void MaskValues_HidesEveryValue()
    {
        var masked = Secrets.MaskValues(new JsonObject { ["ANTHROPIC_API_KEY"] = "sk-ant-secret", ["EMPTY"] = "" });
        Assert.Equal(Secrets.Mask, masked["ANTHROPIC_API_KEY"]!.GetValue<string>());
        Assert.Equal("", masked["EMPTY"]!.GetValue<string>());
        Assert.DoesNotContain("sk-ant", masked.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Merge_KeepsStoredValuesForMasks_AndTakesNewOnes()
    {
        var stored = new JsonObject { ["KEY"] = "old-secret", ["OTHER"] = "x" };
        var merged = Secrets.Merge(new JsonObject { ["KEY"] = Secrets.Mask, ["NEW"] = "fresh" }, stored, "env");
        Assert.Equal("old-secret", merged["KEY"]!.GetValue<string>());
        Assert.Equal("fresh", merged["NEW"]!.GetValue<string>());
        Assert.False(merged.ContainsKey("OTHER"));
        Assert.Throws<RpcException>(() => Secrets.Merge(new JsonObject { ["UNKNOWN"] = Secrets.Mask }, stored, "env"));
    }
}

public sealed class BoundedBufferTests
{
    [Fact]
    public void TryWrite_RefusesPastTheByteBudget_AndReadingFreesIt()
    {
        var buffer = new BoundedBuffer<string>(maxItems: 100, maxBytes: 10, s => s.Length);
        Assert.True(buffer.TryWrite("12345"));
        Assert.True(buffer.TryWrite("12345"));
        Assert.False(buffer.TryWrite("1"));
        Assert.True(buffer.Reader.TryRead(out var first));
        Assert.Equal("12345", first);
        Assert.Equal(5, buffer.Bytes);
        Assert.True(buffer.TryWrite("1"));
    }

    [Fact]
    public void TryWrite_RefusesPastTheItemCount()
    {
        var buffer = new BoundedBuffer<int>(maxItems: 2, maxBytes: long.MaxValue, _ => 1);
        Assert.True(buffer.TryWrite(1));
        Assert.True(buffer.TryWrite(2));
        Assert.False(buffer.TryWrite(3));
    }

    [Fact]
    public void TryWrite_AcceptsOneOversizedItemIntoAnEmptyBuffer()
    {
        var buffer = new BoundedBuffer<string>(maxItems: 10, maxBytes: 4, s => s.Length);
        Assert.True(buffer.TryWrite("far too large"));
        Assert.False(buffer.TryWrite("x"));
    }
}
