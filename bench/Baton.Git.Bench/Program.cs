using System.Diagnostics;
using System.Globalization;
using System.Text;
using Baton.Git;
using Baton.Git.Changes;
using Baton.Git.GitLog;
using Baton.Git.Storage;
using Baton.Git.Workspaces;
using Microsoft.Extensions.Logging.Abstractions;

// Baton.Git.Bench: the git service's code paths against the git CLI doing the same work on the same
// generated repository (10,000 commits, 5,000 files). Writes RESULTS.md next to the project.
// Usage: dotnet run -c Release --project bench/Baton.Git.Bench [-- --commits N --files N --iterations N]
var commits = Arg("--commits", 10_000);
var fileCount = Arg("--files", 5_000);
var iterations = Arg("--iterations", 15);
var root = Directory.CreateTempSubdirectory("baton-git-bench-").FullName;
try
{
    var repo = Path.Combine(root, "repo");
    Directory.CreateDirectory(repo);
    Git(repo, "init", "-q", "-b", "main");
    var generate = Stopwatch.StartNew();
    Generate(repo, commits, fileCount);
    Console.WriteLine($"generated {commits} commits / {fileCount} files in {generate.Elapsed.TotalSeconds:0.0} s");

    var results = new List<(string Name, double Baton, double Cli)>();

    // 1. GET /api/git/log?limit=50 vs git log --numstat -50
    var logBaton = await MeasureAsync(iterations, () => GitLogReader.ReadAsync(repo, 50, CancellationToken.None));
    var logCli = Measure(iterations, () => Git(repo, "log", "--numstat", "-50"));
    results.Add(("git log, limit 50 (`git log --numstat -50`)", logBaton, logCli));

    // 2. diff-stats on a run that changed 1,000 files vs git diff --shortstat
    var options = new GitOptions { WorkDir = repo, RunsDir = Path.Combine(root, "data", "runs") };
    var store = new GitStore(Path.Combine(root, "data", "git", "git.db"));
    var locks = new RepoLocks();
    var workspaces = new WorkspaceService(store, locks, options, NullLogger<WorkspaceService>.Instance);
    store.RegisterProject("p");
    store.TryAddRepo(new RepoRecord("r", "p", "repo", repo));
    var run = (await workspaces.CreateAsync("bench-run", "p", null, null, CancellationToken.None))[0];
    for (var i = 0; i < 1000; i++)
    {
        File.AppendAllText(Path.Combine(run.WorktreePath, FilePath(i * (fileCount / 1000))), "changed by the run\n");
    }
    var changes = new ChangesService(locks);
    var statsBaton = await MeasureAsync(iterations, () => changes.DiffAsync(run, withPatch: false, CancellationToken.None));
    var statsCli = Measure(iterations, () => Git(run.WorktreePath, "diff", "--shortstat", run.BaseCommit));
    var check = await changes.DiffAsync(run, withPatch: false, CancellationToken.None);
    Console.WriteLine($"diff-stats: {check.Files.Count} files, +{check.Files.Sum(f => f.Added)}; git: {Git(run.WorktreePath, "diff", "--shortstat", run.BaseCommit).Trim()}");
    results.Add(("diff-stats, 1,000 changed files (`git diff --shortstat`)", statsBaton, statsCli));

    // 3. Creating a run workspace vs git worktree add, interleaved so machine load hits both alike
    var batonSamples = new List<double>();
    var cliSamples = new List<double>();
    for (var i = 0; i <= Math.Min(iterations, 10); i++)
    {
        var sw = Stopwatch.StartNew();
        await workspaces.CreateAsync("ws-" + i, "p", null, null, CancellationToken.None);
        var baton = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        Git(repo, "worktree", "add", "--quiet", "-b", "cli/" + i, Path.Combine(root, "cli", i.ToString(CultureInfo.InvariantCulture)), "HEAD");
        var cli = sw.Elapsed.TotalMilliseconds;
        if (i > 0)
        {
            batonSamples.Add(baton);
            cliSamples.Add(cli);
        }
    }
    batonSamples.Sort();
    cliSamples.Sort();
    var createBaton = batonSamples[batonSamples.Count / 2];
    var createCli = cliSamples[cliSamples.Count / 2];
    results.Add(("create run workspace (`git worktree add`)", createBaton, createCli));

    var report = new StringBuilder();
    report.AppendLine("# Baton.Git.Bench results");
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"Generated repository: {commits:N0} commits, {fileCount:N0} files. Median of {iterations} runs (workspace create: {Math.Min(iterations, 10)}, interleaved with the CLI), after one warm-up.");
    report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, git {Git(repo, "--version").Trim().Replace("git version ", "", StringComparison.Ordinal)}, .NET {Environment.Version}. Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
    report.AppendLine("Baton is timed on the service's own code path (GitLogReader, ChangesService, WorkspaceService), without HTTP; the CLI is timed as a child process. git log and diff-stats use the git CLI inside (libgit2 per-commit tree diffs measured 17-24x slower than `git log --numstat` on this history); workspaces are created with `git worktree add` plus LibGit2Sharp source resolution.");
    report.AppendLine();
    report.AppendLine("| operation | Baton (ms) | git CLI (ms) | ratio | target ≤ 1.5× |");
    report.AppendLine("| --- | ---: | ---: | ---: | --- |");
    foreach (var (name, baton, cli) in results)
    {
        var ratio = baton / cli;
        report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {baton:0.0} | {cli:0.0} | {ratio:0.00}× | {(ratio <= 1.5 ? "met" : "NOT met")} |");
    }
    Console.WriteLine(report);
    var output = Path.Combine(FindProjectDir(), "RESULTS.md");
    File.WriteAllText(output, report.ToString());
    Console.WriteLine($"written {output}");
}
finally
{
    try
    {
        Directory.Delete(root, recursive: true);
    }
    catch (IOException)
    {
    }
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static string FilePath(int i) => $"src/dir{i % 50:00}/file{i:00000}.txt";

static string FindProjectDir()
{
    var dir = AppContext.BaseDirectory;
    while (dir is not null && !File.Exists(Path.Combine(dir, "Baton.slnx")))
    {
        dir = Path.GetDirectoryName(dir);
    }
    return Path.Combine(dir ?? Directory.GetCurrentDirectory(), "bench", "Baton.Git.Bench");
}

static double Measure(int iterations, Action action)
{
    action();
    var samples = new List<double>();
    for (var i = 0; i < iterations; i++)
    {
        var sw = Stopwatch.StartNew();
        action();
        samples.Add(sw.Elapsed.TotalMilliseconds);
    }
    samples.Sort();
    return samples[samples.Count / 2];
}

static async Task<double> MeasureAsync(int iterations, Func<Task> action)
{
    await action();
    var samples = new List<double>();
    for (var i = 0; i < iterations; i++)
    {
        var sw = Stopwatch.StartNew();
        await action();
        samples.Add(sw.Elapsed.TotalMilliseconds);
    }
    samples.Sort();
    return samples[samples.Count / 2];
}

static string Git(string dir, params string[] args)
{
    var start = new ProcessStartInfo("git") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in args)
    {
        start.ArgumentList.Add(a);
    }
    using var p = Process.Start(start)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEnd();
    p.WaitForExit();
    return p.ExitCode == 0 ? stdout.Result : throw new InvalidOperationException($"git {string.Join(' ', args)}: {stderr}");
}

static void Generate(string repo, int commits, int files)
{
    var start = new ProcessStartInfo("git") { WorkingDirectory = repo, RedirectStandardInput = true, RedirectStandardError = true };
    start.ArgumentList.Add("fast-import");
    start.ArgumentList.Add("--quiet");
    using var p = Process.Start(start)!;
    var input = p.StandardInput;
    input.NewLine = "\n";
    var time = 1_600_000_000L;
    for (var c = 0; c < commits; c++)
    {
        input.WriteLine("commit refs/heads/main");
        input.WriteLine(string.Create(CultureInfo.InvariantCulture, $"committer bench <bench@example.com> {time + c * 60} +0000"));
        var message = $"commit {c}";
        input.WriteLine(string.Create(CultureInfo.InvariantCulture, $"data {Encoding.UTF8.GetByteCount(message)}"));
        input.WriteLine(message);
        var touched = c == 0 ? Enumerable.Range(0, files) : Enumerable.Range(0, 1 + c % 3).Select(k => (c * 7 + k * 1013) % files);
        foreach (var f in touched)
        {
            var content = c == 0
                ? string.Concat(Enumerable.Range(0, 20).Select(l => $"file {f} line {l}\n"))
                : string.Concat(Enumerable.Range(0, 20).Select(l => $"file {f} line {l} v{c}\n"));
            input.WriteLine(string.Create(CultureInfo.InvariantCulture, $"M 100644 inline {FilePath(f)}"));
            input.WriteLine(string.Create(CultureInfo.InvariantCulture, $"data {Encoding.UTF8.GetByteCount(content)}"));
            input.Write(content);
            input.WriteLine();
        }
        input.WriteLine();
    }
    input.Close();
    var err = p.StandardError.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException("fast-import failed: " + err);
    }
    Git(repo, "reset", "-q", "--hard", "main");
}
