using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Baton.Cli.Infrastructure;
using Baton.Cli.Terminal;
using Baton.Contracts.Chat.V1;
using Grpc.Core;

namespace Baton.Cli.Chat;

/// <summary>
/// The interactive chat: a line at the <c>you&gt;</c> prompt (the terminal's own line editing), then the turn in raw
/// mode so single keys answer tool calls (<c>y</c>/<c>n</c>) and Ctrl+C cancels the turn instead of the program.
/// The event stream is the gRPC <c>Converse</c> call; when it drops, it is reopened after the last event id seen,
/// so nothing is shown twice or lost. <c>/exit</c>, Ctrl+D or Ctrl+C at the prompt leave.
/// </summary>
internal sealed class ChatConsole(CliContext context, string chatId, long afterId)
{
    private const byte CtrlC = 0x03;
    private const byte CtrlD = 0x04;
    // About two minutes of attempts: a gateway or chat service restarting on a busy machine can take one.
    private const int MaxReconnects = 120;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);
    private readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<byte[]> _keys = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AsyncDuplexStreamingCall<ClientFrame, ServerFrame>? _call;
    private long _lastId = afterId;
    private volatile bool _raw;
    private volatile bool _stopInput;

    public async Task<int> RunAsync()
    {
        var cancellation = context.Cancellation;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var pump = PumpAsync(stop.Token);
        var input = new Thread(ReadInput) { IsBackground = true, Name = "baton-chat-stdin" };
        input.Start();
        try
        {
            await Task.WhenAny(_connected.Task, pump);
            if (pump.IsCompleted)
            {
                await pump;
            }
            Write($"chat {chatId}: type a message and press Enter; y/n answer tool calls, Ctrl+C cancels a turn, /exit leaves\n");
            while (true)
            {
                var line = await ReadLineAsync(stop.Token);
                if (line is null || line.Trim() is "/exit" or "/quit")
                {
                    return ExitCodes.Ok;
                }
                if (line.Trim().Length == 0)
                {
                    continue;
                }
                await SendAsync(new JsonObject { ["type"] = "user_message", ["content"] = line, ["stream"] = true }, stop.Token);
                using (var raw = RawTerminal.Enter())
                {
                    _raw = raw is not null;
                    await TurnAsync(pump, stop.Token);
                    _raw = false;
                }
            }
        }
        finally
        {
            _stopInput = true;
            await stop.CancelAsync();
            _call?.Dispose();
            await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public static void PrintTranscript(ChatTranscript transcript)
    {
        if (transcript.Summary.Length > 0)
        {
            Console.Out.WriteLine($"(earlier turns, summarised) {transcript.Summary}");
        }
        foreach (var turn in transcript.Turns.Values)
        {
            var role = turn.StructValue?.Fields.GetValueOrDefault("role")?.StringValue ?? "";
            var content = turn.StructValue?.Fields.GetValueOrDefault("content")?.ListValue?.Values ?? [];
            foreach (var block in content.Select(b => b.StructValue).Where(b => b is not null))
            {
                var type = block.Fields.GetValueOrDefault("type")?.StringValue;
                if (type == "text")
                {
                    Console.Out.WriteLine($"{(role == "user" ? "you> " : "")}{block.Fields["text"].StringValue}");
                }
                else if (type == "tool_use")
                {
                    Console.Out.WriteLine($"  [tool {block.Fields.GetValueOrDefault("name")?.StringValue}]");
                }
            }
        }
    }

    /// <summary>One turn: prints the stream until turn_complete or cancelled; keys answer tool calls or cancel.</summary>
    private async Task TurnAsync(Task pump, CancellationToken cancellationToken)
    {
        var pending = new Queue<(string Id, string Name)>();
        var verdicts = new JsonObject();
        var nextEvent = _events.Reader.ReadAsync(cancellationToken).AsTask();
        var nextKey = _keys.Reader.ReadAsync(cancellationToken).AsTask();
        while (true)
        {
            var first = await Task.WhenAny(nextEvent, nextKey, pump);
            if (first == pump)
            {
                await pump;
                throw new CliException(ExitCodes.Error, "the chat stream ended");
            }
            if (first == nextKey)
            {
                var keys = await nextKey;
                nextKey = _keys.Reader.ReadAsync(cancellationToken).AsTask();
                foreach (var key in keys)
                {
                    if (key == CtrlC)
                    {
                        Write("\n^C cancelling the turn…\n");
                        await SendAsync(new JsonObject { ["type"] = "cancel" }, cancellationToken);
                    }
                    else if (pending.Count > 0 && (char)key is 'y' or 'Y' or 'a' or 'n' or 'N' or 'd')
                    {
                        var (id, name) = pending.Dequeue();
                        var allow = (char)key is 'y' or 'Y' or 'a';
                        verdicts[id] = allow ? "allow" : "deny";
                        Write($"{(allow ? "allowed" : "denied")} {name}\n");
                        if (pending.Count > 0)
                        {
                            Ask(pending.Peek());
                        }
                        else
                        {
                            await SendAsync(new JsonObject { ["type"] = "tool_approval", ["verdicts"] = verdicts }, cancellationToken);
                            verdicts = [];
                        }
                    }
                }
                continue;
            }
            var e = await nextEvent;
            nextEvent = _events.Reader.ReadAsync(cancellationToken).AsTask();
            var data = e["data"] as JsonObject ?? [];
            switch ((string?)e["type"])
            {
                case "agent.text_delta" or "agent.text":
                    Write((string?)data["text"] ?? "");
                    break;
                case "agent.tool_request":
                    foreach (var call in data["tool_calls"] as JsonArray ?? [])
                    {
                        var id = (string?)call?["id"] ?? "";
                        var name = (string?)call?["name"] ?? "";
                        Write($"\n┌ tool call {name} {call?["arguments"]?.ToJsonString() ?? "{}"}\n");
                        pending.Enqueue((id, name));
                    }
                    if (pending.Count > 0)
                    {
                        Ask(pending.Peek());
                    }
                    break;
                case "agent.tool_result":
                    var content = (string?)data["content"] ?? "";
                    Write($"└ {(data["is_error"]?.GetValue<bool>() == true ? "error" : "result")} of {(string?)data["tool_name"]}: {Clip(content)}\n");
                    break;
                case "agent.tool_denied":
                    Write($"└ denied ({(string?)data["reason"]})\n");
                    break;
                case "agent.error":
                    Write($"\nerror: {(string?)data["code"]}: {(string?)data["message"]}\n");
                    break;
                case "agent.cancelled":
                    Write("\n(turn cancelled)\n");
                    return;
                case "agent.turn_complete":
                    Write("\n");
                    return;
            }
        }
    }

    private void Ask((string Id, string Name) call) => Write($"allow {call.Name}? [y/n] ");

    /// <summary>Keeps the Converse stream open: events to the channel; on a drop, reopens after the last id seen.</summary>
    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                using var call = context.Baton.Chat.Converse(cancellationToken: cancellationToken);
                await call.RequestStream.WriteAsync(new ClientFrame { Open = new ConverseOpen { ChatId = chatId, AfterId = _lastId } }, cancellationToken);
                // An unknown chat ends the call with NOT_FOUND, which the read below raises.
                _call = call;
                _connected.TrySetResult();
                if (failures > 0)
                {
                    Write("(reconnected)\n");
                }
                failures = 0;
                await foreach (var frame in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    if (frame.Id > 0)
                    {
                        _lastId = frame.Id;
                    }
                    if (JsonNode.Parse(frame.Json) is JsonObject json)
                    {
                        await _events.Writer.WriteAsync(json, cancellationToken);
                    }
                }
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown && !cancellationToken.IsCancellationRequested)
            {
                if (++failures > MaxReconnects || !_connected.Task.IsCompleted)
                {
                    throw;
                }
            }
            _call = null;
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            // Reopened after a pause (not a wait for a condition): the gateway or chat service is restarting.
            Write("(connection lost; reconnecting…)\n");
            await Task.Delay(ReconnectDelay, cancellationToken);
        }
    }

    private async Task SendAsync(JsonObject message, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            var call = _call ?? throw new CliException(ExitCodes.Error, "not connected to the chat; try again in a moment");
            await call.RequestStream.WriteAsync(new ClientFrame { Message = message.ToJsonString() }, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>A line typed at the prompt (the terminal is cooked, so it arrives whole); null at end of input.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        Write("you> ");
        var line = new List<byte>();
        while (true)
        {
            byte[] chunk;
            try
            {
                chunk = await _keys.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return line.Count > 0 ? Encoding.UTF8.GetString([.. line]) : null;
            }
            foreach (var b in chunk)
            {
                if (b == (byte)'\n' || b == (byte)'\r')
                {
                    return Encoding.UTF8.GetString([.. line]);
                }
                if (b == CtrlD && line.Count == 0)
                {
                    return null;
                }
                line.Add(b);
            }
        }
    }

    private unsafe void ReadInput()
    {
        var buffer = new byte[4096];
        var poll = new Posix.PollFd { Fd = Posix.StdIn, Events = Posix.PollIn };
        while (!_stopInput)
        {
            var ready = Posix.Poll(&poll, 1, 100);
            if (ready == 0 || (ready < 0 && Marshal.GetLastPInvokeError() == Posix.EIntr))
            {
                continue;
            }
            nint count;
            fixed (byte* start = buffer)
            {
                count = ready < 0 ? -1 : Posix.Read(Posix.StdIn, start, buffer.Length);
            }
            if (count < 0 && Marshal.GetLastPInvokeError() is Posix.EIntr or Posix.EAgain)
            {
                continue;
            }
            if (count <= 0)
            {
                _keys.Writer.TryComplete();
                return;
            }
            _keys.Writer.TryWrite(buffer.AsSpan(0, (int)count).ToArray());
        }
    }

    private void Write(string text) => Posix.WriteText(Posix.StdOut, _raw ? text.Replace("\n", "\r\n", StringComparison.Ordinal) : text);

    private static string Clip(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 200 ? line : line[..199] + "…";
    }
}
