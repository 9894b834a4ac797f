using System.Text.Json;
using System.Text.Json.Nodes;
using Baton.Runs.Storage;

namespace Baton.Runs.Settings;

/// <summary>The notification preferences of NOTES §5.2.</summary>
public sealed record NotificationSettings(string DiscordWebhookUrl, bool NotifyOnPipelineComplete, bool NotifyOnRunFailed);

/// <summary>Thrown for a settings document that is not valid JSON or has a wrong type; nothing is saved.</summary>
public sealed class SettingsValidationException(string message) : Exception(message);

/// <summary><c>/api/settings/models</c> and <c>/api/settings/notifications</c>: NOTES §5.2 schemas with their defaults, validated before saving.</summary>
public sealed class SettingsStore(RunsStore store)
{
    private const string ModelsKey = "models";
    private const string NotificationsKey = "notifications";

    public static readonly JsonObject DefaultModels = new()
    {
        ["providers"] = new JsonArray(
            Provider("claude-code", "Claude", ("claude-sonnet-4-6", "Sonnet 4.6", "Fast, balanced"), ("claude-opus-4-6", "Opus 4.6", "Most capable"), ("claude-haiku-4-5", "Haiku 4.5", "Fastest")),
            Provider("codex", "ChatGPT", ("o3", "o3", "Reasoning"), ("o4-mini", "o4-mini", "Fast reasoning"), ("gpt-4.1", "GPT-4.1", "General purpose"))),
    };

    public static readonly NotificationSettings DefaultNotifications = new("", true, true);

    public async Task<string> GetModelsJsonAsync(CancellationToken ct) => await store.GetSettingAsync(ModelsKey, ct) ?? DefaultModels.ToJsonString();

    public async Task<string> PutModelsJsonAsync(string body, CancellationToken ct)
    {
        var root = ParseObject(body);
        if (root["providers"] is not JsonArray providers)
        {
            throw new SettingsValidationException("providers must be an array");
        }
        for (var i = 0; i < providers.Count; i++)
        {
            if (providers[i] is not JsonObject provider)
            {
                throw new SettingsValidationException($"providers[{i}] must be an object");
            }
            RequireString(provider, "id", $"providers[{i}].id", required: true);
            RequireString(provider, "name", $"providers[{i}].name", required: false);
            if (provider["models"] is not JsonArray models)
            {
                throw new SettingsValidationException($"providers[{i}].models must be an array");
            }
            for (var j = 0; j < models.Count; j++)
            {
                if (models[j] is not JsonObject model)
                {
                    throw new SettingsValidationException($"providers[{i}].models[{j}] must be an object");
                }
                RequireString(model, "id", $"providers[{i}].models[{j}].id", required: true);
                RequireString(model, "name", $"providers[{i}].models[{j}].name", required: false);
                RequireString(model, "description", $"providers[{i}].models[{j}].description", required: false);
            }
        }
        var json = root.ToJsonString();
        await store.SetSettingAsync(ModelsKey, json, ct);
        return json;
    }

    public async Task<NotificationSettings> GetNotificationsAsync(CancellationToken ct)
    {
        var json = await store.GetSettingAsync(NotificationsKey, ct);
        return json is null ? DefaultNotifications : FromJson((JsonObject)JsonNode.Parse(json)!, DefaultNotifications);
    }

    /// <summary>Fields present replace the current ones; absent fields keep their values.</summary>
    public async Task<NotificationSettings> PutNotificationsAsync(string body, CancellationToken ct)
    {
        var root = ParseObject(body);
        var url = RequireString(root, "discord_webhook_url", "discord_webhook_url", required: false);
        if (!string.IsNullOrEmpty(url)
            && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            throw new SettingsValidationException("discord_webhook_url must be empty or an http(s) URL");
        }
        foreach (var flag in new[] { "notify_on_pipeline_complete", "notify_on_run_failed" })
        {
            if (root.ContainsKey(flag) && (root[flag] is not JsonValue v || v.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)))
            {
                throw new SettingsValidationException($"{flag} must be a boolean");
            }
        }
        var updated = FromJson(root, await GetNotificationsAsync(ct));
        await store.SetSettingAsync(NotificationsKey, ToJson(updated).ToJsonString(), ct);
        return updated;
    }

    public static JsonObject ToJson(NotificationSettings settings) => new()
    {
        ["discord_webhook_url"] = settings.DiscordWebhookUrl,
        ["notify_on_pipeline_complete"] = settings.NotifyOnPipelineComplete,
        ["notify_on_run_failed"] = settings.NotifyOnRunFailed,
    };

    private static NotificationSettings FromJson(JsonObject json, NotificationSettings current) => new(
        json["discord_webhook_url"]?.GetValue<string>() ?? current.DiscordWebhookUrl,
        json["notify_on_pipeline_complete"]?.GetValue<bool>() ?? current.NotifyOnPipelineComplete,
        json["notify_on_run_failed"]?.GetValue<bool>() ?? current.NotifyOnRunFailed);

    private static JsonObject ParseObject(string body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw new SettingsValidationException("the body must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new SettingsValidationException($"invalid JSON: {ex.Message}");
        }
    }

    private static string? RequireString(JsonObject owner, string name, string path, bool required)
    {
        var node = owner[name];
        if (node is null)
        {
            return required ? throw new SettingsValidationException($"{path} is required") : null;
        }
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            throw new SettingsValidationException($"{path} must be a string");
        }
        var text = value.GetValue<string>();
        if (required && string.IsNullOrWhiteSpace(text))
        {
            throw new SettingsValidationException($"{path} must not be empty");
        }
        return text;
    }

    private static JsonObject Provider(string id, string name, params (string Id, string Name, string Description)[] models) => new()
    {
        ["id"] = id,
        ["name"] = name,
        ["models"] = new JsonArray([.. models.Select(m => (JsonNode)new JsonObject { ["id"] = m.Id, ["name"] = m.Name, ["description"] = m.Description })]),
    };
}
