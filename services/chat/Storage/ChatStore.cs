using System.Globalization;
using Baton.ServiceDefaults.Storage;
using Microsoft.Data.Sqlite;

namespace Baton.Chat.Storage;

public sealed record ChatRecord(string Id, string Workspace, bool OwnsWorkspace, string? ProfileName, DateTimeOffset CreatedAt, long CurrentTokens, string? Summary);

/// <summary>One stored message of a chat's conversation, as Microsoft.Extensions.AI serialises it.</summary>
public sealed record StoredMessage(long Id, string ChatId, string Role, string ContentJson, bool IsUserInput, DateTimeOffset CreatedAt);

public sealed record StoredProfile(string Name, string Provider, string Model, string? BaseUrl, string? ApiKeySealed, int? ContextWindow, int? MaxOutputTokens);

/// <summary>The chat service's SQLite file: chats, their messages, profiles and settings.</summary>
public sealed class ChatStore(ChatOptions options)
{
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            workspace TEXT NOT NULL,
            owns_workspace INTEGER NOT NULL,
            profile_name TEXT,
            created_at TEXT NOT NULL,
            current_tokens INTEGER NOT NULL DEFAULT 0,
            summary TEXT
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            is_user_input INTEGER NOT NULL,
            compacted INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_by_chat ON messages (chat_id, compacted, id);
        CREATE TABLE profiles (
            name TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            base_url TEXT,
            api_key_sealed TEXT,
            context_window INTEGER,
            max_output_tokens INTEGER
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
        "ALTER TABLE chats ADD COLUMN turn_running INTEGER NOT NULL DEFAULT 0",
    ];

    private readonly SqliteDatabase _database = new(Path.Combine(options.DataDir, "chat.db"), Migrations);

    public string DatabasePath => _database.Path;

    public async Task InsertChatAsync(ChatRecord chat, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO chats (id, workspace, owns_workspace, profile_name, created_at) VALUES ($id, $ws, $owns, $profile, $created)";
        command.Parameters.AddWithValue("$id", chat.Id);
        command.Parameters.AddWithValue("$ws", chat.Workspace);
        command.Parameters.AddWithValue("$owns", chat.OwnsWorkspace ? 1 : 0);
        command.Parameters.AddWithValue("$profile", (object?)chat.ProfileName ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", chat.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ChatRecord?> GetChatAsync(string id, CancellationToken cancellationToken)
    {
        var chats = await QueryChatsAsync("WHERE id = $id", id, cancellationToken);
        return chats.FirstOrDefault();
    }

    public Task<List<ChatRecord>> ListChatsAsync(CancellationToken cancellationToken) => QueryChatsAsync("ORDER BY created_at, id", null, cancellationToken);

    private async Task<List<ChatRecord>> QueryChatsAsync(string where, string? id, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, workspace, owns_workspace, profile_name, created_at, current_tokens, summary FROM chats " + where;
        if (id is not null)
        {
            command.Parameters.AddWithValue("$id", id);
        }
        var chats = new List<ChatRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            chats.Add(new ChatRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2) != 0, reader.IsDBNull(3) ? null : reader.GetString(3),
                DateTimeOffset.Parse(reader.GetString(4), CultureInfo.InvariantCulture), reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return chats;
    }

    public async Task<bool> DeleteChatAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM chats WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task SetChatProfileAsync(string id, string? profile, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE chats SET profile_name = $profile WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$profile", (object?)profile ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SetCurrentTokensAsync(string id, long tokens, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE chats SET current_tokens = $tokens WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$tokens", tokens);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Marks a turn as running (or not), so a turn cut short by a restart is closed at the next start.</summary>
    public async Task SetTurnRunningAsync(string id, bool running, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE chats SET turn_running = $running WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$running", running ? 1 : 0);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<List<string>> InterruptedChatsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM chats WHERE turn_running = 1";
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    public async Task<StoredMessage> AppendMessageAsync(string chatId, string role, string contentJson, bool isUserInput, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO messages (chat_id, role, content, is_user_input, created_at) VALUES ($chat, $role, $content, $input, $created) RETURNING id
            """;
        command.Parameters.AddWithValue("$chat", chatId);
        command.Parameters.AddWithValue("$role", role);
        command.Parameters.AddWithValue("$content", contentJson);
        command.Parameters.AddWithValue("$input", isUserInput ? 1 : 0);
        command.Parameters.AddWithValue("$created", now.ToString("O", CultureInfo.InvariantCulture));
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        return new StoredMessage(id, chatId, role, contentJson, isUserInput, now);
    }

    /// <summary>The messages the model still sees (not replaced by a compaction summary), oldest first.</summary>
    public async Task<List<StoredMessage>> ActiveMessagesAsync(string chatId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, chat_id, role, content, is_user_input, created_at FROM messages WHERE chat_id = $chat AND compacted = 0 ORDER BY id";
        command.Parameters.AddWithValue("$chat", chatId);
        var messages = new List<StoredMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            messages.Add(new StoredMessage(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4) != 0,
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture)));
        }
        return messages;
    }

    /// <summary>Marks every message up to <paramref name="lastCompactedId"/> as summarised and stores the summary, in one transaction.</summary>
    public async Task CompactAsync(string chatId, long lastCompactedId, string summary, long tokensAfter, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var mark = connection.CreateCommand())
        {
            mark.Transaction = transaction;
            mark.CommandText = "UPDATE messages SET compacted = 1 WHERE chat_id = $chat AND id <= $last";
            mark.Parameters.AddWithValue("$chat", chatId);
            mark.Parameters.AddWithValue("$last", lastCompactedId);
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var update = connection.CreateCommand())
        {
            update.Transaction = transaction;
            update.CommandText = "UPDATE chats SET summary = $summary, current_tokens = $tokens WHERE id = $chat";
            update.Parameters.AddWithValue("$chat", chatId);
            update.Parameters.AddWithValue("$summary", summary);
            update.Parameters.AddWithValue("$tokens", tokensAfter);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<List<StoredProfile>> ListProfilesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, provider, model, base_url, api_key_sealed, context_window, max_output_tokens FROM profiles ORDER BY name";
        var profiles = new List<StoredProfile>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            profiles.Add(new StoredProfile(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6)));
        }
        return profiles;
    }

    public async Task<StoredProfile?> GetProfileAsync(string name, CancellationToken cancellationToken) =>
        (await ListProfilesAsync(cancellationToken)).FirstOrDefault(p => p.Name == name);

    /// <summary>Inserts, or replaces when <paramref name="replace"/>; false when the insert met an existing name.</summary>
    public async Task<bool> SaveProfileAsync(StoredProfile profile, bool replace, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = (replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") + """
             INTO profiles (name, provider, model, base_url, api_key_sealed, context_window, max_output_tokens)
            VALUES ($name, $provider, $model, $base, $key, $window, $max)
            """;
        command.Parameters.AddWithValue("$name", profile.Name);
        command.Parameters.AddWithValue("$provider", profile.Provider);
        command.Parameters.AddWithValue("$model", profile.Model);
        command.Parameters.AddWithValue("$base", (object?)profile.BaseUrl ?? DBNull.Value);
        command.Parameters.AddWithValue("$key", (object?)profile.ApiKeySealed ?? DBNull.Value);
        command.Parameters.AddWithValue("$window", (object?)profile.ContextWindow ?? DBNull.Value);
        command.Parameters.AddWithValue("$max", (object?)profile.MaxOutputTokens ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> DeleteProfileAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM profiles WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<string?> GetSettingAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM settings WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task SetSettingAsync(string key, string? value, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = value is null ? "DELETE FROM settings WHERE key = $key" : "INSERT OR REPLACE INTO settings (key, value) VALUES ($key, $value)";
        command.Parameters.AddWithValue("$key", key);
        if (value is not null)
        {
            command.Parameters.AddWithValue("$value", value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
