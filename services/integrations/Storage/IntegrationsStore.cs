using System.Text.Json;
using Baton.Integrations.Security;
using Baton.ServiceDefaults.Storage;
using Microsoft.Data.Sqlite;

namespace Baton.Integrations.Storage;

public sealed record UserRecord(string Id, string Email, string DisplayName);

public sealed record ApiTokenRecord(string Id, string Owner, string Name, string Hash, string Scopes, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <summary>What a connection holds; only ever stored encrypted.</summary>
public sealed record ConnectionSecret(
    string? AccessToken,
    string? RefreshToken,
    string? TokenType,
    Dictionary<string, string>? Credentials,
    Dictionary<string, string>? Params);

public sealed record StoredConnection(
    string Id,
    string Owner,
    string Integration,
    string Connection,
    string Instance,
    ConnectionSecret Secret,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset UpdatedAt);

public sealed record StoredState(string Owner, byte[] Payload, DateTimeOffset ExpiresAt);

/// <summary>
/// The integrations service's SQLite file: users, platform sessions, API tokens (SHA-256 only),
/// connections (AES-GCM sealed), and one-time states (OAuth, login, pending connections), all
/// keyed by hashes of the secrets that name them.
/// </summary>
public sealed class IntegrationsStore(SqliteDatabase database, CredentialCipher cipher, TimeProvider time)
{
    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL, last_login_at INTEGER NOT NULL);
        CREATE TABLE sessions (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
        CREATE TABLE api_tokens (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
        CREATE INDEX api_tokens_owner ON api_tokens(owner);
        CREATE TABLE connections (id TEXT PRIMARY KEY, owner TEXT NOT NULL, integration TEXT NOT NULL, connection TEXT NOT NULL,
            instance TEXT NOT NULL, secret BLOB NOT NULL, expires_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
            UNIQUE (owner, integration, connection, instance));
        CREATE TABLE states (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, payload BLOB NOT NULL, expires_at INTEGER NOT NULL)
        """,
    ];

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- users and sessions ----

    public async Task<UserRecord> UpsertUserAsync(string email, string displayName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO users (id, email, display_name, created_at, last_login_at) VALUES ($id, $email, $name, $now, $now)
            ON CONFLICT (email) DO UPDATE SET display_name = CASE WHEN excluded.display_name = '' THEN users.display_name ELSE excluded.display_name END,
                last_login_at = excluded.last_login_at
            RETURNING id, email, display_name
            """;
        command.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("n"));
        command.Parameters.AddWithValue("$email", email);
        command.Parameters.AddWithValue("$name", displayName);
        command.Parameters.AddWithValue("$now", Now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new UserRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2));
    }

    public async Task CreateSessionAsync(string userId, string hash, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await ExecuteAsync("INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($hash, $user, $now, $expires)", cancellationToken,
            ("$hash", hash), ("$user", userId), ("$now", Now), ("$expires", expiresAt.ToUnixTimeMilliseconds()));
    }

    public async Task<(string Email, DateTimeOffset ExpiresAt)?> FindSessionAsync(string hash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT u.email, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $hash AND s.expires_at > $now";
        command.Parameters.AddWithValue("$hash", hash);
        command.Parameters.AddWithValue("$now", Now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1))) : null;
    }

    public async Task<bool> DeleteSessionAsync(string hash, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM sessions WHERE hash = $hash", cancellationToken, ("$hash", hash)) > 0;

    // ---- API tokens ----

    public Task InsertTokenAsync(ApiTokenRecord token, CancellationToken cancellationToken) =>
        ExecuteAsync("INSERT INTO api_tokens (id, owner, name, hash, scopes, created_at, expires_at) VALUES ($id, $owner, $name, $hash, $scopes, $created, $expires)",
            cancellationToken, ("$id", token.Id), ("$owner", token.Owner), ("$name", token.Name), ("$hash", token.Hash), ("$scopes", token.Scopes),
            ("$created", token.CreatedAt.ToUnixTimeMilliseconds()), ("$expires", token.ExpiresAt.ToUnixTimeMilliseconds()));

    public async Task<IReadOnlyList<ApiTokenRecord>> ListTokensAsync(string owner, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, owner, name, hash, scopes, created_at, expires_at FROM api_tokens WHERE owner = $owner AND expires_at > $now ORDER BY created_at, id";
        command.Parameters.AddWithValue("$owner", owner);
        command.Parameters.AddWithValue("$now", Now);
        var tokens = new List<ApiTokenRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tokens.Add(ReadToken(reader));
        }
        return tokens;
    }

    public async Task<ApiTokenRecord?> FindTokenAsync(string hash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, owner, name, hash, scopes, created_at, expires_at FROM api_tokens WHERE hash = $hash AND expires_at > $now";
        command.Parameters.AddWithValue("$hash", hash);
        command.Parameters.AddWithValue("$now", Now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadToken(reader) : null;
    }

    /// <summary>Deletes the owner's tokens (one, or all when <paramref name="id"/> is null) and returns their hashes.</summary>
    public async Task<IReadOnlyList<string>> DeleteTokensAsync(string owner, string? id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = id is null
            ? "DELETE FROM api_tokens WHERE owner = $owner RETURNING hash"
            : "DELETE FROM api_tokens WHERE owner = $owner AND id = $id RETURNING hash";
        command.Parameters.AddWithValue("$owner", owner);
        if (id is not null)
        {
            command.Parameters.AddWithValue("$id", id);
        }
        var hashes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            hashes.Add(reader.GetString(0));
        }
        return hashes;
    }

    private static ApiTokenRecord ReadToken(SqliteDataReader reader) => new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        reader.GetString(4), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)));

    // ---- connections ----

    public async Task SaveConnectionAsync(string owner, string integration, string connectionName, string instance, ConnectionSecret secret,
        DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        var sealedSecret = cipher.Encrypt(JsonSerializer.SerializeToUtf8Bytes(secret), AssociatedData(owner, integration, connectionName, instance));
        await ExecuteAsync("""
            INSERT INTO connections (id, owner, integration, connection, instance, secret, expires_at, created_at, updated_at)
            VALUES ($id, $owner, $integration, $connection, $instance, $secret, $expires, $now, $now)
            ON CONFLICT (owner, integration, connection, instance) DO UPDATE SET secret = excluded.secret, expires_at = excluded.expires_at, updated_at = excluded.updated_at
            """, cancellationToken, ("$id", Guid.NewGuid().ToString("n")), ("$owner", owner), ("$integration", integration), ("$connection", connectionName),
            ("$instance", instance), ("$secret", sealedSecret), ("$expires", (object?)expiresAt?.ToUnixTimeMilliseconds() ?? DBNull.Value), ("$now", Now));
    }

    public async Task<IReadOnlyList<StoredConnection>> ListConnectionsAsync(string owner, string? integration, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = integration is null
            ? "SELECT id, owner, integration, connection, instance, secret, expires_at, updated_at FROM connections WHERE owner = $owner ORDER BY integration, connection, instance"
            : "SELECT id, owner, integration, connection, instance, secret, expires_at, updated_at FROM connections WHERE owner = $owner AND integration = $integration ORDER BY connection, instance";
        command.Parameters.AddWithValue("$owner", owner);
        if (integration is not null)
        {
            command.Parameters.AddWithValue("$integration", integration);
        }
        var connections = new List<StoredConnection>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (o, i, c, n) = (reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4));
            var secret = JsonSerializer.Deserialize<ConnectionSecret>(cipher.Decrypt((byte[])reader.GetValue(5), AssociatedData(o, i, c, n)))!;
            connections.Add(new StoredConnection(reader.GetString(0), o, i, c, n, secret,
                reader.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
        }
        return connections;
    }

    public async Task<bool> DeleteConnectionAsync(string id, CancellationToken cancellationToken) =>
        await ExecuteAsync("DELETE FROM connections WHERE id = $id", cancellationToken, ("$id", id)) > 0;

    private static string AssociatedData(string owner, string integration, string connection, string instance) =>
        $"{owner}\n{integration}\n{connection}\n{instance}";

    // ---- one-time states ----

    public async Task PutStateAsync(string hash, string kind, string owner, byte[] payload, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        // Expired states are swept as new ones arrive, so the table stays small without a timer.
        await ExecuteAsync("DELETE FROM states WHERE expires_at <= $now", cancellationToken, ("$now", Now));
        await ExecuteAsync("INSERT INTO states (hash, kind, owner, payload, expires_at) VALUES ($hash, $kind, $owner, $payload, $expires)", cancellationToken,
            ("$hash", hash), ("$kind", kind), ("$owner", owner), ("$payload", cipher.Encrypt(payload, $"state\n{kind}\n{hash}")), ("$expires", expiresAt.ToUnixTimeMilliseconds()));
    }

    /// <summary>Reads a state and, when <paramref name="consume"/> is set, deletes it in the same statement: a state is used once.</summary>
    public async Task<StoredState?> GetStateAsync(string hash, string kind, bool consume, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = consume
            ? "DELETE FROM states WHERE hash = $hash AND kind = $kind RETURNING owner, payload, expires_at"
            : "SELECT owner, payload, expires_at FROM states WHERE hash = $hash AND kind = $kind";
        command.Parameters.AddWithValue("$hash", hash);
        command.Parameters.AddWithValue("$kind", kind);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2));
        if (expires <= time.GetUtcNow())
        {
            return null;
        }
        return new StoredState(reader.GetString(0), cipher.Decrypt((byte[])reader.GetValue(1), $"state\n{kind}\n{hash}"), expires);
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
