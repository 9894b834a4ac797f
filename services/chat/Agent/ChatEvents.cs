using System.Globalization;
using System.Text.Json;
using Baton.ServiceDefaults.Events;

namespace Baton.Chat.Agent;

/// <summary>
/// Every chat's events in the service's durable log (<c>events.db</c>), one stream per chat. Each
/// payload is the WebSocket envelope without its id, <c>{"type":"agent.…","data":{…},"timestamp"}</c>;
/// the id (global and monotonic) is added when it is sent, so <c>?after_id=</c> resumes exactly.
/// </summary>
public sealed class ChatEvents : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly DurableEventLog _log;
    private readonly TimeProvider _time;

    public ChatEvents(ChatOptions options, ILogger<ChatEvents> logger, TimeProvider time)
    {
        _time = time;
        _log = new DurableEventLog(Path.Combine(options.DataDir, "events.db"), logger, time);
    }

    public static string StreamOf(string chatId) => "chat:" + chatId;

    public Task<StoredEvent> EmitAsync(string chatId, string type, object data, CancellationToken cancellationToken = default) =>
        _log.AppendAsync(StreamOf(chatId), type, Envelope(type, data, _time.GetUtcNow()), cancellationToken);

    public IAsyncEnumerable<StoredEvent> StreamAsync(string chatId, long afterId, CancellationToken cancellationToken) =>
        _log.StreamAsync(StreamOf(chatId), afterId, cancellationToken);

    public async Task<long> LastIdAsync(string chatId, CancellationToken cancellationToken)
    {
        long last = 0;
        while (true)
        {
            var page = await _log.ReadAsync(StreamOf(chatId), last, 5000, cancellationToken);
            if (page.Count == 0)
            {
                return last;
            }
            last = page[^1].Id;
        }
    }

    public Task DeleteAsync(string chatId, CancellationToken cancellationToken) => _log.DeleteStreamAsync(StreamOf(chatId), cancellationToken);

    public static string Envelope(string type, object data, DateTimeOffset timestamp) =>
        JsonSerializer.Serialize(new EnvelopeBody(type, data, timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)), Json);

    /// <summary>The WebSocket frame of a stored event: its envelope with the event's id.</summary>
    public static string Frame(StoredEvent stored) =>
        string.Concat(stored.PayloadJson.AsSpan(0, stored.PayloadJson.Length - 1), ",\"id\":", stored.Id.ToString(CultureInfo.InvariantCulture), "}");

    /// <summary>A reply for one connection only (a malformed client message): not stored, no id.</summary>
    public string Ephemeral(string type, object data) => Envelope(type, data, _time.GetUtcNow());

    public ValueTask DisposeAsync() => _log.DisposeAsync();

    private sealed record EnvelopeBody(
        [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
        [property: System.Text.Json.Serialization.JsonPropertyName("data")] object Data,
        [property: System.Text.Json.Serialization.JsonPropertyName("timestamp")] string Timestamp);
}
