using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Baton.Contracts.Integrations.V1;
using Baton.ServiceDefaults.Events;
using Baton.ServiceDefaults.Security;
using Grpc.Core;

namespace Baton.Gateway.Auth;

/// <summary>
/// API tokens (<c>gst_api_…</c>) and platform session tokens (<c>gst_session_…</c>), validated by
/// the integrations service over gRPC. Answers are cached briefly, keyed by the token's SHA-256 (the
/// same hash the service stores, so a revocation event names cache keys directly); a revocation
/// on the event bus evicts the entry on every replica at once, and the short lifetime bounds how
/// long a missed event could matter.
/// </summary>
public sealed class IntegrationsCredentialValidator(
    IntegrationsService.IntegrationsServiceClient integrations,
    TimeProvider time,
    ILogger<IntegrationsCredentialValidator> logger) : ICredentialValidator
{
    public const string ApiTokenPrefix = "gst_api_";
    public const string SessionPrefix = "gst_session_";
    public static readonly TimeSpan ValidLifetime = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan InvalidLifetime = TimeSpan.FromSeconds(2);
    private const int MaxEntries = 10_000;
    private const int MaxTokenLength = 200;

    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);

    private sealed record Entry(CallerIdentity? Identity, DateTimeOffset CachedUntil);

    public int CachedCount => _cache.Count;

    public async ValueTask<CallerIdentity?> ValidateAsync(PresentedCredential credential, CancellationToken cancellationToken)
    {
        var token = credential.Token;
        if (token.Length > MaxTokenLength || !(token.StartsWith(ApiTokenPrefix, StringComparison.Ordinal) || token.StartsWith(SessionPrefix, StringComparison.Ordinal)))
        {
            return null;
        }
        var hash = Hash(token);
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(hash, out var cached) && cached.CachedUntil > now)
        {
            return cached.Identity;
        }

        ValidateCredentialReply reply;
        try
        {
            reply = await integrations.ValidateCredentialAsync(new ValidateCredentialRequest { Token = token }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
        }
        catch (RpcException ex)
        {
            // Not cached: the next request asks again once the service is back.
            logger.LogWarning("Could not validate a {Kind} with the integrations service: {Status}", Kind(token), ex.StatusCode);
            return null;
        }
        CallerIdentity? identity = null;
        var until = now + InvalidLifetime;
        if (reply.Valid)
        {
            identity = new CallerIdentity(reply.User, reply.Kind, reply.Scopes.Count > 0 ? reply.Scopes.ToArray() : null);
            var expires = reply.ExpiresAt?.ToDateTimeOffset() ?? now + ValidLifetime;
            until = expires < now + ValidLifetime ? expires : now + ValidLifetime;
        }
        if (_cache.Count >= MaxEntries)
        {
            // Unknown tokens cannot grow memory without bound; everything is re-validated on demand.
            _cache.Clear();
        }
        _cache[hash] = new Entry(identity, until);
        return identity;
    }

    public void Evict(IEnumerable<string> hashes)
    {
        foreach (var hash in hashes)
        {
            _cache.TryRemove(hash, out _);
        }
    }

    public void Clear() => _cache.Clear();

    public static string Hash(string token)
    {
        // Every authenticated request hashes its token: no intermediate allocations on this path.
        Span<byte> utf8 = stackalloc byte[MaxTokenLength * 3];
        var length = Encoding.UTF8.GetBytes(token, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash);
    }

    private static string Kind(string token) => token.StartsWith(ApiTokenPrefix, StringComparison.Ordinal) ? "API token" : "session token";
}

/// <summary>Listens for revocations from the integrations service and evicts them from this replica's cache.</summary>
public sealed class CredentialRevocationListener(IEventBus bus, IntegrationsCredentialValidator validator, ILogger<CredentialRevocationListener> logger) : BackgroundService
{
    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the subscription is live (tests and readiness wait on it).</summary>
    public Task Subscribed => _subscribed.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var subscription = await bus.SubscribeAsync(CredentialRevocation.Topic, 4096, stoppingToken);
                _subscribed.TrySetResult();
                await foreach (var delivery in subscription.ReadAllAsync(stoppingToken))
                {
                    if (delivery.IsGap || delivery.Message is null)
                    {
                        // Revocations may have been missed while Redis was away: trust nothing cached.
                        validator.Clear();
                        continue;
                    }
                    validator.Evict(delivery.Message.TokenHashes);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is SubscriberTooSlowException or StackExchange.Redis.RedisException or TimeoutException)
            {
                logger.LogWarning("Credential revocation subscription ended ({Reason}); clearing the token cache and resubscribing", ex.Message);
                validator.Clear();
                await Task.Delay(TimeSpan.FromMilliseconds(250), stoppingToken);
            }
        }
    }
}
