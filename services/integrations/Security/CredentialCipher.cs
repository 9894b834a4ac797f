using System.Security.Cryptography;
using System.Text;

namespace Baton.Integrations.Security;

/// <summary>
/// AES-256-GCM for credentials at rest. The key is <c>server.encryption_key</c> (64 hex characters
/// used as is, anything else stretched with PBKDF2), or a random key generated once into the data
/// folder with owner-only permissions. Associated data binds each ciphertext to its row, so a
/// ciphertext copied onto another row does not decrypt.
/// </summary>
public sealed class CredentialCipher
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] Salt = "baton-integrations-key-v1"u8.ToArray();
    private readonly byte[] _key;

    public CredentialCipher(byte[] key)
    {
        if (key.Length != 32)
        {
            throw new ArgumentException("the encryption key must be 32 bytes", nameof(key));
        }
        _key = key;
    }

    public static CredentialCipher Create(string? configuredKey, string dataDir)
    {
        if (!string.IsNullOrEmpty(configuredKey))
        {
            return new CredentialCipher(DeriveKey(configuredKey));
        }
        var path = Path.Combine(dataDir, "encryption.key");
        if (File.Exists(path))
        {
            return new CredentialCipher(Convert.FromHexString(File.ReadAllText(path).Trim()));
        }
        var key = RandomNumberGenerator.GetBytes(32);
        var temporary = path + ".tmp";
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, fileOptions))
        {
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexString(key).ToLowerInvariant()));
        }
        File.Move(temporary, path, overwrite: false);
        return new CredentialCipher(key);
    }

    public static byte[] DeriveKey(string configured)
    {
        if (configured.Length == 64 && configured.All(Uri.IsHexDigit))
        {
            return Convert.FromHexString(configured);
        }
        return Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(configured), Salt, 100_000, HashAlgorithmName.SHA256, 32);
    }

    public byte[] Encrypt(ReadOnlySpan<byte> plaintext, string associatedData)
    {
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length), Encoding.UTF8.GetBytes(associatedData));
        return output;
    }

    public byte[] Decrypt(ReadOnlySpan<byte> sealedData, string associatedData)
    {
        if (sealedData.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("ciphertext too short");
        }
        var length = sealedData.Length - NonceSize - TagSize;
        var plaintext = new byte[length];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(sealedData[..NonceSize], sealedData.Slice(NonceSize, length), sealedData[(NonceSize + length)..], plaintext, Encoding.UTF8.GetBytes(associatedData));
        return plaintext;
    }
}

public static class TokenHash
{
    /// <summary>SHA-256 hex: how API tokens, sessions and one-time states are stored and looked up.</summary>
    public static string Of(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token))).ToLowerInvariant();

    public static string NewSecret(string prefix) => prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
}
