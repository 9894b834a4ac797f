using System.Net;
using System.Text.Json.Nodes;

namespace Baton.Git.Tests;

[Collection(GitServiceCollection.Name)]
public sealed class GitLogRouteTests(GitServiceFixture fx)
{
    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("51")]
    [InlineData("abc")]
    public async Task GitLog_WithLimitOutOfRange_Returns400InvalidLimit(string limit)
    {
        var response = await fx.Http.GetAsync($"/api/git/log?limit={limit}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid limit", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GitLog_DefaultsTo20_AndHonoursLimit()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "many");
        for (var i = 0; i < 25; i++)
        {
            TestGit.Commit(repo, "n.txt", $"{i}\n", $"commit {i}");
        }
        var added = await fx.AddRepoAsync(project, repo);

        var all = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/git/log?project_id={project}&repo_id={added.Id}"))!;
        Assert.Equal(20, all["commits"]!.AsArray().Count);
        Assert.Equal("commit 24", all["commits"]![0]!["subject"]!.GetValue<string>());
        var five = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/git/log?limit=5&project_id={project}&repo_id={added.Id}"))!;
        Assert.Equal(5, five["commits"]!.AsArray().Count);
        var fifty = JsonNode.Parse(await fx.Http.GetStringAsync($"/api/git/log?limit=50&project_id={project}&repo_id={added.Id}"))!;
        Assert.Equal(26, fifty["commits"]!.AsArray().Count);
    }

    [Fact]
    public async Task GitLog_ForWorkDir_HasExactFieldsAndNullCountsForBinaryFiles()
    {
        var folder = fx.NewFolder();
        var project = await fx.NewProjectAsync();
        var repo = TestGit.CreateRepo(folder, "shape");
        TestGit.Run(repo, "checkout", "-q", "-b", "git-log-dashboard");
        File.WriteAllBytes(Path.Combine(repo, "logo.png"), [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 13, 0, 1]);
        File.WriteAllText(Path.Combine(repo, "Dashboard.svelte"), "a\nb\nc\n");
        File.WriteAllText(Path.Combine(repo, "README.md"), "# shape\n");
        TestGit.Run(repo, "add", "-A");
        TestGit.Run(repo, "commit", "-q", "-m", "feat(dashboard): add git log panel\n\nbody text");
        var added = await fx.AddRepoAsync(project, repo);

        var text = await fx.Http.GetStringAsync($"/api/git/log?limit=1&project_id={project}&repo_id={added.Id}");
        var json = JsonNode.Parse(text)!.AsObject();

        Assert.Equal(["branch", "commits"], json.Select(p => p.Key).ToArray());
        Assert.Equal("git-log-dashboard", json["branch"]!.GetValue<string>());
        var commit = json["commits"]![0]!.AsObject();
        Assert.Equal(["sha", "short_sha", "committed_at", "subject", "stats", "files_truncated", "files"], commit.Select(p => p.Key).ToArray());
        Assert.Equal(TestGit.Head(repo), commit["sha"]!.GetValue<string>());
        Assert.Equal(TestGit.Head(repo)[..12], commit["short_sha"]!.GetValue<string>());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", commit["committed_at"]!.GetValue<string>());
        Assert.Equal("feat(dashboard): add git log panel", commit["subject"]!.GetValue<string>());
        var stats = commit["stats"]!.AsObject();
        Assert.Equal(["files_changed", "lines_added", "lines_deleted", "has_binary"], stats.Select(p => p.Key).ToArray());
        Assert.Equal(3, stats["files_changed"]!.GetValue<int>());
        Assert.Equal(3, stats["lines_added"]!.GetValue<int>());
        Assert.Equal(2, stats["lines_deleted"]!.GetValue<int>());
        Assert.True(stats["has_binary"]!.GetValue<bool>());
        Assert.False(commit["files_truncated"]!.GetValue<bool>());

        var files = commit["files"]!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["path"]!.GetValue<string>());
        var binary = files["logo.png"];
        Assert.Equal(["path", "added", "deleted", "binary"], binary.Select(p => p.Key).ToArray());
        Assert.Null(binary["added"]);
        Assert.Null(binary["deleted"]);
        Assert.Contains("\"added\":null", binary.ToJsonString(), StringComparison.Ordinal);
        Assert.True(binary["binary"]!.GetValue<bool>());
        Assert.Equal(3, files["Dashboard.svelte"]["added"]!.GetValue<int>());
        Assert.Equal(0, files["Dashboard.svelte"]["deleted"]!.GetValue<int>());
        Assert.Equal(2, files["README.md"]["deleted"]!.GetValue<int>());
        Assert.False(files["README.md"]["binary"]!.GetValue<bool>());
    }

    [Fact]
    public async Task GitLog_WithoutQuery_ReadsBatonWorkDir()
    {
        var json = JsonNode.Parse(await fx.Http.GetStringAsync("/api/git/log"))!;
        Assert.Equal("main", json["branch"]!.GetValue<string>());
        Assert.Equal(TestGit.Head(fx.WorkDir), json["commits"]![0]!["sha"]!.GetValue<string>());
    }

    [Fact]
    public async Task GitLog_OutsideARepository_Returns200WithEmptyBranchAndCommits()
    {
        await using var factory = new GitFactory(new Dictionary<string, string?>
        {
            ["BATON_INTERNAL_SECRET"] = GitServiceFixture.Secret,
            ["BATON_DATA_DIR"] = Path.Combine(fx.Root, "data-outside"),
            ["BATON_WORKDIR"] = fx.Outside,
        });
        using var client = factory.CreateInternalClient();
        var response = await client.GetAsync("/api/git/log");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"branch\":\"\",\"commits\":[]}", (await response.Content.ReadAsStringAsync()).Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GitLog_WhenGitFails_Returns503()
    {
        var folder = fx.NewFolder();
        var repo = TestGit.CreateRepo(folder, "broken");
        TestGit.Commit(repo, "x.txt", "x\n", "second");
        // Remove the parent commit's object: walking the history fails inside git.
        var parent = TestGit.Head(repo, "HEAD~1");
        File.Delete(Path.Combine(repo, ".git", "objects", parent[..2], parent[2..]));
        await using var factory = new GitFactory(new Dictionary<string, string?>
        {
            ["BATON_INTERNAL_SECRET"] = GitServiceFixture.Secret,
            ["BATON_DATA_DIR"] = Path.Combine(fx.Root, "data-broken"),
            ["BATON_WORKDIR"] = repo,
        });
        using var client = factory.CreateInternalClient();
        var response = await client.GetAsync("/api/git/log");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task GitLog_WhenReadingTakesLongerThanTheTimeout_Returns503()
    {
        var folder = fx.NewFolder();
        var repo = TestGit.CreateRepo(folder, "slow");
        TestGit.FastImport(repo, "main", Enumerable.Range(0, 5000).Select(i => ($"big/file{i}.txt", string.Concat(Enumerable.Repeat($"line {i}\n", 20)))));
        await using var factory = new GitFactory(new Dictionary<string, string?>
        {
            ["BATON_INTERNAL_SECRET"] = GitServiceFixture.Secret,
            ["BATON_DATA_DIR"] = Path.Combine(fx.Root, "data-slow"),
            ["BATON_WORKDIR"] = repo,
            ["BATON_GIT_LOG_TIMEOUT_MS"] = "1",
        });
        using var client = factory.CreateInternalClient();
        var response = await client.GetAsync("/api/git/log");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("timed out", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
