using System.Text.Json;

namespace Baton.ServiceDefaults.Events;

/// <summary>
/// An inbound webhook accepted by a <c>webhook</c> binding of the integrations service (its
/// signature verified), published for flow triggers. <see cref="Type"/> is <c>webhook.&lt;binding&gt;</c>;
/// <see cref="Payload"/> is the JSON body as received (null when the body was empty).
/// </summary>
public sealed record WebhookReceived(
    string Id,
    string Type,
    string Binding,
    string? Provider,
    DateTimeOffset ReceivedAt,
    IReadOnlyDictionary<string, string> Headers,
    JsonElement? Payload)
{
    public static readonly EventTopic<WebhookReceived> Topic = new("integrations.webhooks");
}
