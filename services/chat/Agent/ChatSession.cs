using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Baton.Chat.Agent;

/// <summary>
/// The live state of one chat: its queue of user messages (taken one turn at a time, in order),
/// the running turn's cancellation, and the approval it is waiting for. It outlives WebSocket
/// connections: a turn goes on when its socket drops.
/// </summary>
public sealed class ChatSession
{
    private readonly Channel<ClientMessage.UserMessage> _inbox = Channel.CreateBounded<ClientMessage.UserMessage>(
        new BoundedChannelOptions(64) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly object _gate = new();
    private CancellationTokenSource? _turn;
    private PendingApproval? _pending;
    private bool _finishing;

    public ChatSession(string chatId)
    {
        ChatId = chatId;
    }

    public string ChatId { get; }

    /// <summary>Cancelled when the chat is deleted or the service stops.</summary>
    public CancellationTokenSource Lifetime { get; } = new();

    /// <summary>Held by a turn or a compaction, so the two never overlap.</summary>
    public SemaphoreSlim Busy { get; } = new(1, 1);

    public bool IsRunning => Volatile.Read(ref _turn) is not null;

    /// <summary>
    /// The turn holding <see cref="Busy"/> has emitted its last event and only its bookkeeping remains
    /// (reset when the next turn takes <see cref="Busy"/>).
    /// </summary>
    public bool Finishing
    {
        get => Volatile.Read(ref _finishing);
        set => Volatile.Write(ref _finishing, value);
    }

    public ChannelReader<ClientMessage.UserMessage> Inbox => _inbox.Reader;

    public Task? Loop { get; set; }

    public bool TryEnqueue(ClientMessage.UserMessage message) => _inbox.Writer.TryWrite(message);

    public CancellationToken BeginTurn()
    {
        lock (_gate)
        {
            _turn = CancellationTokenSource.CreateLinkedTokenSource(Lifetime.Token);
            return _turn.Token;
        }
    }

    public void EndTurn()
    {
        lock (_gate)
        {
            _turn?.Dispose();
            _turn = null;
            _pending = null;
        }
    }

    /// <summary>Cancels the running turn; false when none runs.</summary>
    public bool Cancel()
    {
        lock (_gate)
        {
            if (_turn is null)
            {
                return false;
            }
            _turn.Cancel();
            _pending?.Verdicts.TrySetCanceled();
            return true;
        }
    }

    public PendingApproval AwaitApproval(IReadOnlyCollection<string> callIds)
    {
        lock (_gate)
        {
            _pending = new PendingApproval(callIds);
            return _pending;
        }
    }

    /// <summary>Resolves the pending approval; false (and a message) when there is none or it does not match.</summary>
    public bool Approve(ClientMessage.ToolApproval approval, out string error)
    {
        PendingApproval? pending;
        lock (_gate)
        {
            pending = _pending;
        }
        error = "";
        if (pending is null)
        {
            error = "no tool call is waiting for approval";
            return false;
        }
        var verdicts = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var id in pending.CallIds)
        {
            // A call the client did not name is denied: approval is never implied.
            verdicts[id] = approval.All ?? (approval.Verdicts.TryGetValue(id, out var allowed) && allowed);
        }
        if (approval.All is null && !approval.Verdicts.Keys.Any(pending.CallIds.Contains))
        {
            error = $"verdicts name no pending tool call (pending: {string.Join(", ", pending.CallIds)})";
            return false;
        }
        return pending.Verdicts.TrySetResult(verdicts) || Fail(out error);
    }

    private static bool Fail(out string error)
    {
        error = "the approval was already answered";
        return false;
    }

    public void Close()
    {
        _inbox.Writer.TryComplete();
        Lifetime.Cancel();
    }

    public sealed class PendingApproval(IReadOnlyCollection<string> callIds)
    {
        public IReadOnlyCollection<string> CallIds { get; } = callIds;
        public TaskCompletionSource<IReadOnlyDictionary<string, bool>> Verdicts { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>The sessions of chats that have been used since the service started, each with its turn loop.</summary>
public sealed class ChatSessions(IServiceProvider services) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ChatSession> _sessions = new(StringComparer.Ordinal);

    public ChatSession Get(string chatId) => _sessions.GetOrAdd(chatId, id =>
    {
        var session = new ChatSession(id);
        session.Loop = Task.Run(() => services.GetRequiredService<AgentLoop>().RunAsync(session));
        return session;
    });

    public ChatSession? Find(string chatId) => _sessions.TryGetValue(chatId, out var session) ? session : null;

    public int Running => _sessions.Values.Count(s => s.IsRunning);

    public async Task RemoveAsync(string chatId)
    {
        if (_sessions.TryRemove(chatId, out var session))
        {
            session.Close();
            if (session.Loop is { } loop)
            {
                await loop.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _sessions.Keys.ToList())
        {
            await RemoveAsync(id);
        }
    }
}
