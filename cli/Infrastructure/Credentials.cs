using System.Text.Json;
using System.Text.Json.Serialization;

namespace Baton.Cli.Infrastructure;

/// <summary>What <c>baton login</c> saves. <see cref="TokenId"/> is set when the CLI created the token itself (browser login), so logout revokes it.</summary>
public sealed record SavedCredentials(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("grpc_url")] string? GrpcUrl,
    [property: JsonPropertyName("token")] string? Token,
    [property: JsonPropertyName("token_id")] string? TokenId = null);

/// <summary><c>$XDG_CONFIG_HOME/baton/credentials.json</c>, readable by its owner only (0600, folder 0700).</summary>
public sealed class CredentialStore(string path)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string Path { get; } = path;

    public static CredentialStore Default()
    {
        var config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(config) || !System.IO.Path.IsPathRooted(config))
        {
            config = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        }
        return new CredentialStore(System.IO.Path.Combine(config, "baton", "credentials.json"));
    }

    public SavedCredentials? Load()
    {
        if (!File.Exists(Path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<SavedCredentials>(File.ReadAllText(Path));
        }
        catch (JsonException ex)
        {
            throw new CliException(ExitCodes.Error, $"{Path} is not valid JSON ({ex.Message}); run 'baton logout' and log in again");
        }
    }

    public void Save(SavedCredentials credentials)
    {
        var folder = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // Written to a private temporary file and renamed, so the token is never readable by others, not even briefly.
        var temporary = Path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, credentials, Json);
        }
        File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temporary, Path, overwrite: true);
    }

    public bool Delete()
    {
        if (!File.Exists(Path))
        {
            return false;
        }
        File.Delete(Path);
        return true;
    }
}
