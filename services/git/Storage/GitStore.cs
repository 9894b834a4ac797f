using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Storage;
using Microsoft.Data.Sqlite;

namespace Baton.Git.Storage;

public sealed record RepoRecord(string Id, string ProjectId, string Name, string RepoPath);

public sealed record WorkspaceRecord(
    string RunId, string ProjectId, string RepoId, string RepoName, string RepoPath,
    string WorktreePath, string Branch, string BaseCommit);

/// <summary>The git service's own SQLite file: projects, their repos, run workspaces and active runs.</summary>
public sealed class GitStore
{
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE projects (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
        CREATE TABLE repos (
            id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL, repo_path TEXT NOT NULL, created_at TEXT NOT NULL,
            UNIQUE (project_id, repo_path), UNIQUE (project_id, name));
        CREATE TABLE workspaces (
            run_id TEXT NOT NULL, project_id TEXT NOT NULL, repo_id TEXT NOT NULL, repo_name TEXT NOT NULL,
            repo_path TEXT NOT NULL, worktree_path TEXT NOT NULL, branch TEXT NOT NULL, base_commit TEXT NOT NULL,
            PRIMARY KEY (run_id, repo_id));
        CREATE TABLE active_runs (run_id TEXT PRIMARY KEY);
        """,
    ];

    private readonly SqliteDatabase _db;

    public GitStore(BatonOptions options) : this(Path.Combine(options.ServiceDataDir, "git.db"))
    {
    }

    public GitStore(string path) => _db = new SqliteDatabase(path, Migrations);

    public void RegisterProject(string projectId) =>
        Execute("INSERT OR IGNORE INTO projects (id, created_at) VALUES ($id, $now)", ("$id", projectId), ("$now", DateTimeOffset.UtcNow.ToString("O")));

    public bool ProjectExists(string projectId) =>
        Scalar("SELECT COUNT(*) FROM projects WHERE id = $id", ("$id", projectId)) > 0;

    public void DeleteProject(string projectId)
    {
        Execute("DELETE FROM repos WHERE project_id = $id", ("$id", projectId));
        Execute("DELETE FROM projects WHERE id = $id", ("$id", projectId));
    }

    /// <summary>Adds a repo; returns the conflicting field ("repo_path" or "name") instead when the project already has it.</summary>
    public string? TryAddRepo(RepoRecord repo)
    {
        using var connection = _db.Open();
        using var transaction = connection.BeginTransaction();
        foreach (var (column, value) in new[] { ("repo_path", repo.RepoPath), ("name", repo.Name) })
        {
            using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = $"SELECT COUNT(*) FROM repos WHERE project_id = $p AND {column} = $v";
            check.Parameters.AddWithValue("$p", repo.ProjectId);
            check.Parameters.AddWithValue("$v", value);
            if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0)
            {
                return column;
            }
        }
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO repos (id, project_id, name, repo_path, created_at) VALUES ($id, $p, $n, $path, $now)";
        insert.Parameters.AddWithValue("$id", repo.Id);
        insert.Parameters.AddWithValue("$p", repo.ProjectId);
        insert.Parameters.AddWithValue("$n", repo.Name);
        insert.Parameters.AddWithValue("$path", repo.RepoPath);
        insert.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToString("O"));
        try
        {
            insert.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            // SQLITE_CONSTRAINT: a concurrent request registered the same path or name first.
            return ex.Message.Contains("repos.name", StringComparison.Ordinal) ? "name" : "repo_path";
        }
        transaction.Commit();
        return null;
    }

    public IReadOnlyList<RepoRecord> ListRepos(string projectId) =>
        Query("SELECT id, project_id, name, repo_path FROM repos WHERE project_id = $p ORDER BY created_at, name",
            r => new RepoRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3)), ("$p", projectId));

    public IReadOnlyList<RepoRecord> ListAllRepos() =>
        Query("SELECT id, project_id, name, repo_path FROM repos", r => new RepoRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3)));

    public bool DeleteRepo(string projectId, string repoId) =>
        Execute("DELETE FROM repos WHERE project_id = $p AND id = $id", ("$p", projectId), ("$id", repoId)) > 0;

    public void SaveWorkspace(WorkspaceRecord w) => Execute(
        """
        INSERT OR REPLACE INTO workspaces (run_id, project_id, repo_id, repo_name, repo_path, worktree_path, branch, base_commit)
        VALUES ($run, $p, $repo, $name, $path, $wt, $branch, $base)
        """,
        ("$run", w.RunId), ("$p", w.ProjectId), ("$repo", w.RepoId), ("$name", w.RepoName), ("$path", w.RepoPath),
        ("$wt", w.WorktreePath), ("$branch", w.Branch), ("$base", w.BaseCommit));

    public IReadOnlyList<WorkspaceRecord> ListWorkspaces(string runId) =>
        Query("SELECT run_id, project_id, repo_id, repo_name, repo_path, worktree_path, branch, base_commit FROM workspaces WHERE run_id = $run ORDER BY repo_name",
            ReadWorkspace, ("$run", runId));

    public IReadOnlyList<WorkspaceRecord> ListAllWorkspaces() =>
        Query("SELECT run_id, project_id, repo_id, repo_name, repo_path, worktree_path, branch, base_commit FROM workspaces", ReadWorkspace);

    public void DeleteWorkspaces(string runId)
    {
        Execute("DELETE FROM workspaces WHERE run_id = $run", ("$run", runId));
        Execute("DELETE FROM active_runs WHERE run_id = $run", ("$run", runId));
    }

    public void SetRunActive(string runId, bool active) => Execute(
        active ? "INSERT OR IGNORE INTO active_runs (run_id) VALUES ($run)" : "DELETE FROM active_runs WHERE run_id = $run", ("$run", runId));

    public bool IsRunActive(string runId) => Scalar("SELECT COUNT(*) FROM active_runs WHERE run_id = $run", ("$run", runId)) > 0;

    public bool RepoHasActiveRun(string repoId) => Scalar(
        "SELECT COUNT(*) FROM workspaces w JOIN active_runs a ON a.run_id = w.run_id WHERE w.repo_id = $repo", ("$repo", repoId)) > 0;

    private static WorkspaceRecord ReadWorkspace(SqliteDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7));

    private int Execute(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = _db.Open();
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private long Scalar(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = _db.Open();
        using var command = Command(connection, sql, parameters);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> map, params (string Name, object Value)[] parameters)
    {
        using var connection = _db.Open();
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var list = new List<T>();
        while (reader.Read())
        {
            list.Add(map(reader));
        }
        return list;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command;
    }
}
