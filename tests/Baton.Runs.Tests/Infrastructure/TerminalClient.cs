using System.Text;
using System.Text.RegularExpressions;
using Baton.Contracts.Runs.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Baton.Runs.Tests.Infrastructure;

/// <summary>Collects a terminal stream's output as text.</summary>
public sealed class TerminalClient : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<TerminalInput, TerminalOutput> _call;
    private readonly StringBuilder _text = new();
    private readonly Task _reading;

    public TerminalClient(RunsService.RunsServiceClient client, TerminalOpen open)
    {
        _call = client.Terminal();
        _call.RequestStream.WriteAsync(new TerminalInput { Open = open }).GetAwaiter().GetResult();
        _reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var output in _call.ResponseStream.ReadAllAsync())
                {
                    lock (_text)
                    {
                        if (output.KindCase == TerminalOutput.KindOneofCase.Data)
                        {
                            _text.Append(output.Data.ToStringUtf8());
                        }
                        else
                        {
                            Exit = output.Exit;
                        }
                    }
                }
            }
            catch (RpcException)
            {
            }
        });
    }

    public TerminalExit? Exit { get; private set; }

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>The output without escape sequences and whitespace: what a screen shows, as one string of characters.</summary>
    public string VisibleCharacters => Regex.Replace(Text, @"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])|\s", "");

    public Task SendAsync(string text) => _call.RequestStream.WriteAsync(new TerminalInput { Data = ByteString.CopyFromUtf8(text) });

    public Task ResizeAsync(int cols, int rows) => _call.RequestStream.WriteAsync(new TerminalInput { Resize = new TerminalResize { Cols = cols, Rows = rows } });

    public Task WaitForAsync(string text) => Eventually.WaitAsync(() => Text.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(15), () => $"never saw '{text}' in: {Text}");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _call.RequestStream.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
        }
        await _reading.WaitAsync(TimeSpan.FromSeconds(15));
        _call.Dispose();
    }
}
