using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Baton.Chat.Agent;

/// <summary>
/// Token counts where a provider reports none (or for the part of a context it never measured): the
/// o200k_base tokenizer, loaded on first use so an idle service does not carry its tables.
/// </summary>
public sealed class TokenEstimator
{
    private readonly Lazy<Tokenizer> _tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public int Count(string text) => text.Length == 0 ? 0 : _tokenizer.Value.CountTokens(text);

    public int Count(IEnumerable<ChatMessage> messages) => Count(Render(messages));

    /// <summary>A plain-text rendering of messages: what a summary request shows the model, and what estimates count.</summary>
    public static string Render(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            text.Append('[').Append(message.Role.Value).Append("] ");
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text).Append('\n');
                        break;
                    case FunctionCallContent call:
                        text.Append("(tool call ").Append(call.Name).Append(' ').Append(JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions)).Append(")\n");
                        break;
                    case FunctionResultContent result:
                        text.Append("(tool result) ").Append(result.Result?.ToString()).Append('\n');
                        break;
                }
            }
        }
        return text.ToString();
    }
}
