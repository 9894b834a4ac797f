using System.Text.Json.Nodes;
using Baton.Chat.Tests.Infrastructure;
using Baton.Cli.Tests.Infrastructure;
using Baton.Testing;

namespace Baton.Cli.Tests;

/// <summary><c>baton chat</c> in a real terminal (tmux) against the chat tests' fake model API: streamed text, a tool call approved with a key, Ctrl+C cancelling a turn.</summary>
[Trait("Category", "Redis")]
public sealed class ChatTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    /// <summary>Waits for <paramref name="text"/> on the terminal; a timeout shows the screen.</summary>
    private static async Task ScreenAsync(Tmux tmux, string text)
    {
        try
        {
            await Eventually.WaitAsync(() => Task.FromResult(tmux.Screen().Contains(text, StringComparison.Ordinal)), Wait, $"'{text}' on the screen");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; the screen:\n{tmux.Screen()}", ex);
        }
    }

    [Fact]
    public async Task Chat_InTmux_ApprovesAToolCallWithAKey_StreamsTheAnswer_CtrlCCancelsATurn()
    {
        var chat = new ChatSystem();
        await chat.InitializeAsync();
        var scratch = TestEnvironment.NewDirectory("baton-cli-chat");
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await using var fake = await FakeLlm.StartAsync(async (call, cancellationToken) =>
            {
                var last = call.UserTexts.LastOrDefault() ?? "";
                if (last.Contains("hang", StringComparison.Ordinal))
                {
                    // A model that never answers until the turn is cancelled.
                    await hold.Task.WaitAsync(cancellationToken);
                }
                return call.ToolResult("call_1") is null
                    ? ModelReply.Tool("call_1", "bash", new JsonObject { ["command"] = "echo from-the-tool > made.txt && cat made.txt" })
                    : ModelReply.Text("The file says from-the-tool.", inputTokens: 40, outputTokens: 9);
            });
            await chat.SetPermissionsAsync("interactive");
            var workspace = chat.NewWorkspace();
            var profile = await chat.ProfileAsync(fake, "anthropic");
            using var cli = new BatonCli(chat.System);
            var environment = new Dictionary<string, string?>(cli.Environment) { ["XDG_CONFIG_HOME"] = cli.ConfigHome, ["PS1"] = "$ " };
            using var tmux = Tmux.Start(120, 40, environment, scratch);
            tmux.Type($"stty -g > before; {BatonCli.CommandLine} chat new --profile {profile} --workspace {workspace}; echo $? > exit; stty -g > after");
            await ScreenAsync(tmux, "you> ");

            tmux.Type("make a file");
            await ScreenAsync(tmux, "allow bash? [y/n]");
            Assert.Contains("echo from-the-tool", tmux.Screen(), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(workspace, "made.txt")), "nothing runs before approval");
            tmux.Type("y", enter: false);
            await ScreenAsync(tmux, "The file says from-the-tool.");
            Assert.Equal("from-the-tool\n", File.ReadAllText(Path.Combine(workspace, "made.txt")));
            Assert.Contains("result of bash: from-the-tool", tmux.Screen(), StringComparison.Ordinal);

            // Ctrl+C during a turn cancels that turn, not the program.
            tmux.Type("hang please");
            await Eventually.WaitAsync(() => Task.FromResult(fake.Calls.Any(c => c.UserTexts.LastOrDefault()?.Contains("hang", StringComparison.Ordinal) == true)), Wait, "the model was asked");
            tmux.SendBytes(0x03);
            await ScreenAsync(tmux, "(turn cancelled)");
            Assert.False(File.Exists(Path.Combine(scratch, "exit")), "Ctrl+C in a turn must not end baton chat");

            tmux.Type("/exit");
            await Eventually.WaitAsync(() => Task.FromResult(Tmux.Wrote(Path.Combine(scratch, "after"))), Wait, "baton chat exited");
            Assert.Equal("0", File.ReadAllText(Path.Combine(scratch, "exit")).Trim());
            Assert.Equal(File.ReadAllText(Path.Combine(scratch, "before")), File.ReadAllText(Path.Combine(scratch, "after")));
        }
        finally
        {
            hold.TrySetResult();
            TestEnvironment.DeleteQuietly(scratch);
            await chat.DisposeAsync();
        }
    }

    [Fact]
    public async Task Chat_GatewayRestartedMidTurn_Reconnects_AndShowsTheTurnsAnswerExactlyOnce()
    {
        var chat = new ChatSystem();
        await chat.InitializeAsync();
        var scratch = TestEnvironment.NewDirectory("baton-cli-chat");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await using var fake = await FakeLlm.StartAsync(async (call, cancellationToken) =>
            {
                if (call.UserTexts.LastOrDefault()?.Contains("slow", StringComparison.Ordinal) == true)
                {
                    await release.Task.WaitAsync(cancellationToken);
                    return ModelReply.Text("Answered while you were away.", inputTokens: 30, outputTokens: 6);
                }
                return ModelReply.Text("First answer here.", inputTokens: 20, outputTokens: 4);
            });
            var profile = await chat.ProfileAsync(fake, "anthropic");
            using var cli = new BatonCli(chat.System);
            var environment = new Dictionary<string, string?>(cli.Environment) { ["XDG_CONFIG_HOME"] = cli.ConfigHome, ["PS1"] = "$ " };
            using var tmux = Tmux.Start(120, 40, environment, scratch);
            tmux.Type($"{BatonCli.CommandLine} chat new --profile {profile} --workspace {chat.NewWorkspace()}; echo $? > exit");
            await ScreenAsync(tmux, "you> ");
            tmux.Type("hello");
            await ScreenAsync(tmux, "First answer here.");

            // A turn in flight when the gateway goes away: it finishes in the chat service while the CLI is cut off.
            tmux.Type("a slow one");
            await Eventually.WaitAsync(() => Task.FromResult(fake.Calls.Any(c => c.UserTexts.LastOrDefault()?.Contains("slow", StringComparison.Ordinal) == true)), Wait, "the model was asked");
            await chat.System.StopServiceAsync("gateway");
            await ScreenAsync(tmux, "(connection lost; reconnecting");
            release.SetResult();
            await chat.System.StartServiceAsync("gateway");

            // The CLI reopens the stream after the last event it saw: what it missed arrives once, nothing earlier again.
            await ScreenAsync(tmux, "(reconnected)");
            await ScreenAsync(tmux, "Answered while you were away.");
            tmux.Type("/exit");
            await Eventually.WaitAsync(() => Task.FromResult(Tmux.Wrote(Path.Combine(scratch, "exit"))), Wait, "baton chat exited");
            var screen = tmux.Screen();
            Assert.Equal(1, Occurrences(screen, "First answer here."));
            Assert.Equal(1, Occurrences(screen, "Answered while you were away."));
            Assert.Equal("0", File.ReadAllText(Path.Combine(scratch, "exit")).Trim());
        }
        finally
        {
            release.TrySetResult();
            TestEnvironment.DeleteQuietly(scratch);
            await chat.DisposeAsync();
        }
    }

    private static int Occurrences(string text, string value) => text.Split(value).Length - 1;
}

