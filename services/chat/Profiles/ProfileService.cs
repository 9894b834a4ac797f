using Baton.Chat.Api;
using Baton.Chat.Storage;
using Baton.Contracts.Chat.V1;
using Baton.ServiceDefaults.Security;
using Grpc.Core;

namespace Baton.Chat.Profiles;

/// <summary>A profile with its API key opened, for building a model client. Never serialised or logged.</summary>
public sealed record ResolvedProfile(string Name, string Provider, string Model, string? BaseUrl, string? ApiKey, int? ContextWindow, int? MaxOutputTokens)
{
    public int EffectiveContextWindow => ContextWindow ?? Provider switch
    {
        "anthropic" => 200_000,
        "openai" => 128_000,
        _ => 32_768,
    };

    public override string ToString() => $"{Name} ({Provider}/{Model})";
}

/// <summary>Model profiles (NOTES §2.4): validated, API keys sealed at rest and masked on the way out, and the default.</summary>
public sealed class ProfileService(ChatStore store, SecretBox secrets)
{
    public const string Mask = Secrets.Mask;
    public static readonly string[] Providers = ["anthropic", "openai", "ollama"];
    private const string DefaultKey = "default_profile";

    public async Task<string?> DefaultNameAsync(CancellationToken cancellationToken) => await store.GetSettingAsync(DefaultKey, cancellationToken);

    public async Task SetDefaultAsync(string name, CancellationToken cancellationToken)
    {
        await RequireAsync(name, cancellationToken);
        await store.SetSettingAsync(DefaultKey, name, cancellationToken);
    }

    public async Task<StoredProfile> RequireAsync(string name, CancellationToken cancellationToken) =>
        await store.GetProfileAsync(CheckName(name), cancellationToken) ?? throw ProfileNotFound(name);

    public static RpcException ProfileNotFound(string name) => Check.NotFound($"profile {Check.Quote(name)} not found");

    public async Task<ResolvedProfile?> ResolveAsync(string? name, CancellationToken cancellationToken)
    {
        name ??= await DefaultNameAsync(cancellationToken);
        if (name is null || await store.GetProfileAsync(name, cancellationToken) is not { } stored)
        {
            return null;
        }
        return new ResolvedProfile(stored.Name, stored.Provider, stored.Model, stored.BaseUrl,
            stored.ApiKeySealed is null ? null : secrets.Open(stored.ApiKeySealed), stored.ContextWindow, stored.MaxOutputTokens);
    }

    public async Task<StoredProfile> CreateAsync(string name, Profile? profile, CancellationToken cancellationToken)
    {
        var stored = Validate(CheckName(name), profile, existing: null);
        if (!await store.SaveProfileAsync(stored, replace: false, cancellationToken))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"profile {Check.Quote(name)} already exists"));
        }
        // The first profile becomes the default, so a fresh install can chat right after creating one.
        if (await DefaultNameAsync(cancellationToken) is null)
        {
            await store.SetSettingAsync(DefaultKey, stored.Name, cancellationToken);
        }
        return stored;
    }

    public async Task<StoredProfile> UpdateAsync(string name, Profile? profile, CancellationToken cancellationToken)
    {
        var existing = await RequireAsync(name, cancellationToken);
        var stored = Validate(existing.Name, profile, existing);
        await store.SaveProfileAsync(stored, replace: true, cancellationToken);
        return stored;
    }

    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        var existing = await RequireAsync(name, cancellationToken);
        if (await DefaultNameAsync(cancellationToken) == existing.Name)
        {
            throw Check.Invalid($"profile {Check.Quote(name)} is the default profile; set another default first");
        }
        await store.DeleteProfileAsync(existing.Name, cancellationToken);
    }

    public static string CheckName(string? name)
    {
        var value = Check.Require(name, "name", Check.Name);
        if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || value is "." or "..")
        {
            throw Check.Invalid($"name may contain only letters, digits, '-', '_' and '.': {Check.Quote(value)}");
        }
        if (value is "default")
        {
            throw Check.Invalid("\"default\" is reserved (it names the default-profile route)");
        }
        return value;
    }

    public static Profile ToMessage(StoredProfile stored) => new()
    {
        Provider = stored.Provider,
        Model = stored.Model,
        BaseUrl = stored.BaseUrl,
        ApiKey = stored.ApiKeySealed is null ? null : Mask,
        ContextWindow = stored.ContextWindow,
        MaxOutputTokens = stored.MaxOutputTokens,
    };

    private StoredProfile Validate(string name, Profile? profile, StoredProfile? existing)
    {
        if (profile is null)
        {
            throw Check.Invalid("profile is required");
        }
        var provider = Check.Require(profile.Provider, "profile.provider", 32);
        if (!Providers.Contains(provider))
        {
            throw Check.Invalid($"profile.provider must be one of {string.Join(", ", Providers)}: {Check.Quote(provider)}");
        }
        var model = Check.Require(profile.Model, "profile.model", 200);
        var baseUrl = Check.Optional(profile.BaseUrl, "profile.base_url", 2048);
        if (baseUrl is not null && (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            throw Check.Invalid($"profile.base_url must be an absolute http(s) URL: {Check.Quote(baseUrl)}");
        }
        string? sealedKey;
        var apiKey = profile.ApiKey;
        if (apiKey == Mask)
        {
            // The mask sent back keeps the stored key (a client round-tripping what it read).
            sealedKey = existing?.ApiKeySealed ?? throw Check.Invalid($"profile.api_key is the mask {Mask} but no key is stored; send the real key");
        }
        else
        {
            var key = Check.Optional(apiKey, "profile.api_key", 4096);
            sealedKey = key is null ? null : secrets.Seal(key);
        }
        var window = profile.ContextWindow;
        if (window is <= 0 or > 10_000_000)
        {
            throw Check.Invalid("profile.context_window must be between 1 and 10000000");
        }
        var maxOutput = profile.MaxOutputTokens;
        if (maxOutput is <= 0 or > 1_000_000)
        {
            throw Check.Invalid("profile.max_output_tokens must be between 1 and 1000000");
        }
        return new StoredProfile(name, provider, model, baseUrl, sealedKey, window, maxOutput);
    }
}
