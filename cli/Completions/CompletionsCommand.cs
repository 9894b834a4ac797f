using System.CommandLine;
using Baton.Cli.Infrastructure;

namespace Baton.Cli.Completions;

/// <summary>
/// <c>baton completions bash|zsh</c>: a script that asks the parser itself what can come next
/// (System.CommandLine's <c>[suggest:N]</c> directive), so completions always match the commands.
/// </summary>
public static class CompletionsCommand
{
    private const string Bash = """
        # bash completion for baton: eval "$(baton completions bash)"
        _baton_complete() {
            local IFS=$'\n'
            local candidates
            candidates=$(baton "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)
            COMPREPLY=($(compgen -W "${candidates}" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _baton_complete baton

        """;

    private const string Zsh = """
        # zsh completion for baton: eval "$(baton completions zsh)"
        _baton_complete() {
            local -a candidates
            candidates=("${(@f)$(baton "[suggest:${#BUFFER}]" "${BUFFER}" 2>/dev/null)}")
            compadd -- "${candidates[@]}"
        }
        compdef _baton_complete baton

        """;

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completions", "Print a shell completion script: eval \"$(baton completions bash)\"") { shell };
        command.SetHandler(context =>
        {
            Console.Out.Write(context.Get(shell) == "zsh" ? Zsh : Bash);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
