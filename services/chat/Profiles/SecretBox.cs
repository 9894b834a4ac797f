using System.Security.Cryptography;
using System.Text;

namespace Baton.Chat.Profiles;

/// <summary>
/// Seals profile API keys at rest with AES-256-GCM. The key is generated once into
/// <c>keys/profiles.key</c> (mode 0600) in the chat service's data folder, so the database alone
/// never reveals a credential.
/// </summary>
public sealed class SecretBox
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public SecretBox(ChatOptions options)
    {
        var directory = Path.Combine(options.DataDir, "keys");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "profiles.key");
        if (!File.Exists(path))
        {
            var fresh = RandomNumberGenerator.GetBytes(32);
            try
            {
                var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }
                using var stream = new FileStream(path, create);
                stream.Write(fresh);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another instance created it first: use theirs.
            }
        }
        _key = File.ReadAllBytes(path);
        if (_key.Length != 32)
        {
            throw new InvalidOperationException($"{path} is not a 32-byte key; move it away to generate a new one (stored API keys are then lost)");
        }
    }

    public string Seal(string plaintext)
    {
        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + TagSize + data.Length];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, data, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize));
        return "v1:" + Convert.ToBase64String(output);
    }

    public string Open(string sealedValue)
    {
        if (!sealedValue.StartsWith("v1:", StringComparison.Ordinal))
        {
            throw new CryptographicException("unknown sealed-secret format");
        }
        var input = Convert.FromBase64String(sealedValue[3..]);
        var plain = new byte[input.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize + TagSize), input.AsSpan(NonceSize, TagSize), plain);
        return Encoding.UTF8.GetString(plain);
    }
}
