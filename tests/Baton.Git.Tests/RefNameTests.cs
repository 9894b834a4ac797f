using Baton.Git.Infrastructure;
using Grpc.Core;

namespace Baton.Git.Tests;

public sealed class RefNameTests
{
    [Theory]
    [InlineData("-D")]
    [InlineData("--force")]
    [InlineData("../../../etc/passwd")]
    [InlineData("a..b")]
    [InlineData("x.lock")]
    [InlineData("feature/x.lock/y")]
    [InlineData("@{-1}")]
    [InlineData("@")]
    [InlineData("HEAD")]
    [InlineData("refs/heads/main")]
    [InlineData("~1")]
    [InlineData("a^b")]
    [InlineData("a:b")]
    [InlineData("a b")]
    [InlineData("a*b")]
    [InlineData("a?b")]
    [InlineData("a[b")]
    [InlineData("a\\b")]
    [InlineData("a\u0000b")]
    [InlineData("a\u007fb")]
    [InlineData("name\u202e")]
    [InlineData("/lead")]
    [InlineData("trail/")]
    [InlineData("a//b")]
    [InlineData(".hidden")]
    [InlineData("dir/.hidden")]
    [InlineData("dot.")]
    public void ProblemWithBranch_RefusesWhatGitRefuses(string name) => Assert.NotNull(RefNames.ProblemWithBranch(name));

    [Fact]
    public void ProblemWithBranch_RefusesALoneSurrogate() =>
        // Built at run time: attribute arguments cannot carry a lone surrogate.
        Assert.Equal("contains a lone UTF-16 surrogate", RefNames.ProblemWithBranch("lone" + (char)0xD800));

    [Theory]
    [InlineData("main")]
    [InlineData("baton/run-1a2b3c4d")]
    [InlineData("feature/résumé-💥")]
    [InlineData("v1.2.3")]
    [InlineData("under_score-and.dot")]
    public void ProblemWithBranch_AcceptsOrdinaryNames(string name)
    {
        Assert.Null(RefNames.ProblemWithBranch(name));
        // git itself agrees.
        var check = Baton.Testing.GitProcess.Run(Path.GetTempPath(), "check-ref-format", "--branch", name);
        Assert.Equal(name, check.Trim());
    }

    [Fact]
    public void RequireBranch_RefusesAnOverlongName_QuotingOnlyAPrefix()
    {
        var ex = Assert.Throws<RpcException>(() => RefNames.RequireBranch(new string('b', 3000), "branch"));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.True(ex.Status.Detail.Length < 300, ex.Status.Detail);
    }

    [Theory]
    [InlineData("HEAD")]
    [InlineData("0123abcd")]
    [InlineData("main")]
    public void RequireRevision_AcceptsHeadShasAndBranches(string revision) => Assert.Equal(revision, RefNames.RequireRevision(revision, "source_branch"));
}
