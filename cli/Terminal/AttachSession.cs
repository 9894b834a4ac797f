using System.Globalization;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace Baton.Cli.Terminal;

internal enum AttachEnding
{
    Detached,
    Closed,
    Dropped,
    Interrupted,
}

/// <summary>
/// Joins the real terminal to a remote PTY over the gateway's terminal WebSocket: keys out as binary
/// frames, output straight to stdout, SIGWINCH as a resize message, <c>Ctrl-]</c> to detach.
/// The caller owns raw mode; this class only moves bytes and reports how the session ended.
/// </summary>
internal sealed class AttachSession(ClientWebSocket socket)
{
    public const byte DetachKey = 0x1D;
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(2);
    private readonly Channel<(byte[] Data, WebSocketMessageType Type)> _outgoing = Channel.CreateUnbounded<(byte[], WebSocketMessageType)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _detached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopInput;

    public string CloseReason { get; private set; } = "";

    public async Task<AttachEnding> RunAsync(CancellationToken cancellationToken)
    {
        using var resize = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => SendSize());
        var input = new Thread(ReadInput) { IsBackground = true, Name = "baton-attach-stdin" };
        input.Start();
        var sender = SendAsync(cancellationToken);
        var output = ReceiveAsync(cancellationToken);
        var interrupted = Task.Delay(Timeout.Infinite, cancellationToken);
        var first = await Task.WhenAny(output, _detached.Task, sender, interrupted);
        _stopInput = true;
        _outgoing.Writer.TryComplete();

        if (first == output)
        {
            return await output;
        }
        if (first == sender && sender.IsFaulted)
        {
            CloseReason = sender.Exception!.GetBaseException().Message;
            return AttachEnding.Dropped;
        }
        // Detach (or a signal): the keys typed before it go out, then our side closes cleanly; the
        // gateway drops this viewer and the process goes on.
        await Task.WhenAny(sender, Task.Delay(CloseGrace, CancellationToken.None));
        await CloseQuietlyAsync(first == interrupted ? "interrupted" : "detached");
        await Task.WhenAny(output, Task.Delay(CloseGrace, CancellationToken.None));
        return first == interrupted ? AttachEnding.Interrupted : AttachEnding.Detached;
    }

    /// <summary>Sends the terminal's current size; called at start and on every SIGWINCH.</summary>
    public void SendSize()
    {
        if ((Posix.GetWindowSize(Posix.StdIn) ?? Posix.GetWindowSize(Posix.StdOut)) is { } size)
        {
            var json = string.Create(CultureInfo.InvariantCulture, $"{{\"type\":\"resize\",\"cols\":{size.Columns},\"rows\":{size.Rows}}}");
            _outgoing.Writer.TryWrite((Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text));
        }
    }

    private async Task<AttachEnding> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseReason = socket.CloseStatusDescription ?? "";
                    return socket.CloseStatus is WebSocketCloseStatus.NormalClosure or WebSocketCloseStatus.EndpointUnavailable && !_detached.Task.IsCompleted
                        ? AttachEnding.Closed
                        : _detached.Task.IsCompleted ? AttachEnding.Detached : AttachEnding.Dropped;
                }
                Posix.WriteAll(Posix.StdOut, buffer.AsSpan(0, result.Count));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            CloseReason = ex.Message;
            return cancellationToken.IsCancellationRequested ? AttachEnding.Interrupted : _detached.Task.IsCompleted ? AttachEnding.Detached : AttachEnding.Dropped;
        }
    }

    private async Task SendAsync(CancellationToken cancellationToken)
    {
        await foreach (var (data, type) in _outgoing.Reader.ReadAllAsync(cancellationToken))
        {
            await socket.SendAsync(data, type, true, cancellationToken);
        }
    }

    private unsafe void ReadInput()
    {
        var buffer = new byte[4096];
        var poll = new Posix.PollFd { Fd = Posix.StdIn, Events = Posix.PollIn };
        while (!_stopInput)
        {
            // A bounded wait, so the thread notices a detach or a closed terminal without a wake-up pipe.
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
                // End of input (a pipe closed, the terminal went away): nothing more can be typed.
                _detached.TrySetResult();
                return;
            }
            var span = buffer.AsSpan(0, (int)count);
            var detach = span.IndexOf(DetachKey);
            var keys = detach < 0 ? span : span[..detach];
            if (keys.Length > 0)
            {
                _outgoing.Writer.TryWrite((keys.ToArray(), WebSocketMessageType.Binary));
            }
            if (detach >= 0)
            {
                _detached.TrySetResult();
                return;
            }
        }
    }

    private async Task CloseQuietlyAsync(string reason)
    {
        using var timeout = new CancellationTokenSource(CloseGrace);
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, reason, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }
}
