using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Integrations.Tests.Infrastructure;
using Baton.Testing;
using StackExchange.Redis;

namespace Baton.Integrations.Tests;

[Collection(IntegrationsCollection.Name)]
[Trait("Category", "Redis")]
public sealed class BindingTests(IntegrationsFixture fixture)
{
    [Fact]
    public async Task Bindings_AreListed()
    {
        using var admin = fixture.System.CreateClient();
        using var response = await admin.GetAsync("/api/v1/bindings");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["github_events", "github_proxy"], (await response.Content.ReadFromJsonAsync<string[]>())!);
    }

    [Fact]
    public async Task Webhook_WithAValidSignature_IsPublishedOnTheEventBus_AndAWrongOneIsRefused()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.System.Orchestrator.RedisConnectionString);
        var received = Channel.CreateUnbounded<string>();
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal("baton:integrations.webhooks"));
        queue.OnMessage(message => received.Writer.TryWrite(message.Message.ToString()));

        using var client = fixture.Client();
        var marker = Guid.NewGuid().ToString("n");
        var body = $$"""{"action":"opened","marker":"{{marker}}"}""";

        using var wrong = await PostWebhookAsync(client, body, Sign("not-the-secret", body));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("invalid signature", (await wrong.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
        using var missing = await PostWebhookAsync(client, body, null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        using var tampered = await PostWebhookAsync(client, body.Replace("opened", "closed", StringComparison.Ordinal), Sign(IntegrationsFixture.WebhookSecret, body));
        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);

        using var accepted = await PostWebhookAsync(client, body, "sha256=" + Sign(IntegrationsFixture.WebhookSecret, body));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var answer = (await accepted.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("webhook.github_events", answer["type"]!.GetValue<string>());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var message = JsonNode.Parse(await received.Reader.ReadAsync(timeout.Token))!;
        Assert.Equal("webhook.github_events", message["type"]!.GetValue<string>());
        Assert.Equal("github_events", message["binding"]!.GetValue<string>());
        Assert.Equal("github", message["provider"]!.GetValue<string>());
        Assert.Equal(marker, message["payload"]!["marker"]!.GetValue<string>());
        Assert.Equal(answer["event_id"]!.GetValue<string>(), message["id"]!.GetValue<string>());
        // Only the accepted delivery was published.
        Assert.False(received.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Webhook_TriggersTheFlowsWhoseWhereMatchesItsBody()
    {
        var marker = Guid.NewGuid().ToString("n");
        var hook = new Uri(fixture.Upstream.BaseUrl, "flow-hook").ToString();
        var config = JsonNode.Parse($$$"""
            {"version": 1,
             "triggers": [{"id": "pr-opened", "label": "PR opened", "event_type": "webhook.github_events", "where": {"data.action": "opened"}}],
             "bindings_by_trigger_id": {"pr-opened": [{"activity_id": "post_webhook",
               "config": {"url": "{{{hook}}}", "body_template": "{{binding}} {{provider}} {{data.marker}}"}}]}}
            """)!;
        using var admin = fixture.System.CreateClient();
        using (var put = await admin.PutAsJsonAsync("/api/flow/config", config))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
        try
        {
            using var client = fixture.Client();
            // A delivery the trigger's where does not match runs nothing; the matching one posts the rendered body.
            var closed = $$"""{"action":"closed","marker":"{{marker}}-closed"}""";
            using (var response = await PostWebhookAsync(client, closed, Sign(IntegrationsFixture.WebhookSecret, closed)))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            var opened = $$"""{"action":"opened","marker":"{{marker}}"}""";
            using (var response = await PostWebhookAsync(client, opened, Sign(IntegrationsFixture.WebhookSecret, opened)))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            await Eventually.WaitAsync(() => Task.FromResult(fixture.Upstream.Requests.Any(r => r.Path == "/flow-hook" && r.Body == $"github_events github {marker}")),
                TimeSpan.FromSeconds(30), () => "the flow posted the webhook's fields: " + string.Join(" | ", fixture.Upstream.Requests.Where(r => r.Path == "/flow-hook").Select(r => r.Body)));
            Assert.DoesNotContain(fixture.Upstream.Requests, r => r.Path == "/flow-hook" && r.Body.Contains(marker + "-closed", StringComparison.Ordinal));
        }
        finally
        {
            (await admin.PutAsJsonAsync("/api/flow/config", new { version = 1 })).Dispose();
        }
    }

    [Fact]
    public async Task ProxyBinding_ForwardsWithTheStoredCredentials_ForAProxyAuthorizedCaller()
    {
        var session = await fixture.LoginAsync(IntegrationsFixture.NewEmail("proxy"));
        (await fixture.ConnectOAuthAsync(session, "github")).Dispose();
        using var client = fixture.Client();

        using var anonymous = await client.GetAsync("/api/v1/bindings/github_proxy/api/proxied/repos?x=1");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/bindings/github_proxy/api/proxied/repos?x=1");
        request.Headers.Add("Proxy-Authorization", $"Bearer {session}");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echoed = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("/repos", echoed["path"]!.GetValue<string>());
        Assert.Equal("?x=1", echoed["query"]!.GetValue<string>());
        Assert.False(echoed["proxy_authorization_forwarded"]!.GetValue<bool>());
        var seen = fixture.Upstream.Requests.Last(r => r.Path == "/proxied/repos");
        Assert.Contains(seen.Authorization!["Bearer ".Length..], fixture.Auth.IssuedAccessTokens);

        using var unknown = await client.GetAsync("/api/v1/bindings/nope/x");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private static Task<HttpResponseMessage> PostWebhookAsync(HttpClient client, string body, string? signature)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/bindings/github_events/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (signature is not null)
        {
            request.Headers.Add("X-Webhook-Signature", signature);
        }
        return client.SendAsync(request);
    }

    private static string Sign(string secret, string body) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body))).ToLowerInvariant();
}
