using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Anthropic;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Baton.Chat.Profiles;

/// <summary>
/// Builds the <see cref="IChatClient"/> of a profile through the providers' maintained SDKs: the
/// official Anthropic SDK for the Messages API, and the official OpenAI SDK (Chat Completions) for
/// OpenAI, Ollama, vLLM, llama.cpp and anything else compatible, pointed anywhere by <c>base_url</c>.
/// Clients are cached per profile content and share one connection pool.
/// </summary>
public sealed class ChatClientFactory : IDisposable
{
    public const string OllamaDefaultUrl = "http://127.0.0.1:11434/v1";
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
        MaxConnectionsPerServer = 512,
    })
    {
        // Long generations stream for minutes; the turn's own cancellation ends them.
        Timeout = Timeout.InfiniteTimeSpan,
    };
    private readonly ConcurrentDictionary<ResolvedProfile, IChatClient> _clients = new();

    public IChatClient For(ResolvedProfile profile) => _clients.GetOrAdd(profile, Create);

    private IChatClient Create(ResolvedProfile profile)
    {
        if (profile.Provider == "anthropic")
        {
            var client = new AnthropicClient
            {
                ApiKey = profile.ApiKey ?? "",
                BaseUrl = profile.BaseUrl ?? "https://api.anthropic.com",
                HttpClient = _http,
                MaxRetries = 2,
            };
            return client.AsIChatClient(profile.Model, profile.MaxOutputTokens ?? 4096);
        }
        var options = new OpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(_http),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };
        var baseUrl = profile.BaseUrl ?? (profile.Provider == "ollama" ? OllamaDefaultUrl : null);
        if (baseUrl is not null)
        {
            options.Endpoint = new Uri(baseUrl);
        }
        // Local servers (Ollama, llama.cpp) ignore the key, but the SDK requires one.
        var openAi = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(profile.ApiKey) ? "unused" : profile.ApiKey), options);
        return openAi.GetChatClient(profile.Model).AsIChatClient();
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
        _http.Dispose();
    }
}
