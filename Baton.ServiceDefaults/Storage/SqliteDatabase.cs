using Microsoft.Data.Sqlite;

namespace Baton.ServiceDefaults.Storage;

/// <summary>
/// A service's own SQLite file in WAL mode, migrated forward with <c>PRAGMA user_version</c>.
/// Connections are cheap (pooled by Microsoft.Data.Sqlite); open one per unit of work.
/// </summary>
public sealed class SqliteDatabase
{
    private readonly string _connectionString;

    public SqliteDatabase(string path, IReadOnlyList<string> migrations)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Migrate(migrations);
    }

    public string Path { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragmas = connection.CreateCommand();
        // busy_timeout lets concurrent writers queue instead of failing with SQLITE_BUSY.
        pragmas.CommandText = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";
        pragmas.ExecuteNonQuery();
        return connection;
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragmas = connection.CreateCommand();
        pragmas.CommandText = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";
        await pragmas.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    private void Migrate(IReadOnlyList<string> migrations)
    {
        using var connection = Open();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }
        using var transaction = connection.BeginTransaction();
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt32(read.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        for (var i = version; i < migrations.Count; i++)
        {
            using var step = connection.CreateCommand();
            step.Transaction = transaction;
            step.CommandText = migrations[i] + $";PRAGMA user_version = {i + 1};";
            step.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
