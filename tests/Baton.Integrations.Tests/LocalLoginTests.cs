using Baton.Integrations.Api;
using Baton.Integrations.Configuration;
using Baton.Integrations.Platform;
using Baton.Integrations.Security;
using Baton.Integrations.Storage;
using Baton.Integrations.Tokens;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Security;
using Baton.ServiceDefaults.Storage;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Integrations.Tests;

/// <summary>The <c>local</c> login provider and sessions, on the service's own classes with a real SQLite file.</summary>
public sealed class LocalLoginTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-local-login-").FullName;
    private readonly InMemoryEventBus _bus = new();
    private readonly PlatformLogin _login;
    private readonly TokenService _tokens;

    public LocalLoginTests()
    {
        var empty = IntegrationsSettings.Empty(Path.Combine(_dir, "integrations.yaml"), "http://127.0.0.1:8080");
        var settings = empty with { Auth = empty.Auth with { Provider = "local", DisplayName = "local", LocalEmail = "me@example.com" } };
        var provider = new SettingsProvider(settings, new ConfigLoader(_ => null, new HttpClient()), "http://127.0.0.1:8080", NullLogger<SettingsProvider>.Instance);
        var store = new IntegrationsStore(new SqliteDatabase(Path.Combine(_dir, "integrations.db"), IntegrationsStore.Migrations),
            CredentialCipher.Create(null, _dir), TimeProvider.System);
        _tokens = new TokenService(provider, store, _bus, TimeProvider.System, NullLogger<TokenService>.Instance);
        _login = new PlatformLogin(provider, store, _tokens, null!, TimeProvider.System, NullLogger<PlatformLogin>.Instance);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task LocalLogin_SignsInTheConfiguredUser_OnceperState()
    {
        var url = new Uri(await _login.StartAsync("client", 0, CancellationToken.None));
        Assert.Equal("/api/v1/auth/login/callback", url.AbsolutePath);
        var query = QueryHelpers.ParseQuery(url.Query);

        var wrongCode = await Assert.ThrowsAsync<IntegrationException>(() => _login.CompleteAsync("forged", query["state"], null, CancellationToken.None));
        Assert.Equal(401, wrongCode.Status);

        // A refused attempt consumed the state, so a fresh login is needed.
        url = new Uri(await _login.StartAsync("client", 0, CancellationToken.None));
        query = QueryHelpers.ParseQuery(url.Query);
        var result = await _login.CompleteAsync(query["code"], query["state"], null, CancellationToken.None);
        Assert.Equal("me@example.com", result.Email);
        Assert.Equal("client", result.ClientState);
        var validated = await _tokens.ValidateAsync(result.SessionToken, CancellationToken.None);
        Assert.Equal(("me@example.com", "session"), (validated!.User, validated.Kind));

        var replay = await Assert.ThrowsAsync<IntegrationException>(() => _login.CompleteAsync(query["code"], query["state"], null, CancellationToken.None));
        Assert.Equal(403, replay.Status);
    }

    [Fact]
    public async Task Logout_EndsTheSession_AndPublishesItsRevocation()
    {
        await using var revocations = await _bus.SubscribeAsync(CredentialRevocation.Topic);
        var url = new Uri(await _login.StartAsync(null, 0, CancellationToken.None));
        var query = QueryHelpers.ParseQuery(url.Query);
        var session = (await _login.CompleteAsync(query["code"], query["state"], null, CancellationToken.None)).SessionToken;

        Assert.True(await _login.LogoutAsync(session, CancellationToken.None));
        Assert.Null(await _tokens.ValidateAsync(session, CancellationToken.None));
        await using var reader = revocations.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal([TokenHash.Of(session)], reader.Current.Message!.TokenHashes);
    }
}
