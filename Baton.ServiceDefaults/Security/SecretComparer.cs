using System.Security.Cryptography;
using System.Text;

namespace Baton.ServiceDefaults.Security;

public static class SecretComparer
{
    /// <summary>Constant-time comparison; the lengths leak, the contents do not.</summary>
    public static bool AreEqual(string? presented, string expected)
    {
        if (presented is null)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
    }
}
