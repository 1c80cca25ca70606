using System.CommandLine;

namespace Ppn.Cli;

/// <summary>
/// `TOOL completion bash|zsh|fish` prints a script for the shell; the script asks the tool itself for the
/// candidates (the hidden `TOOL __complete LINE`, like cobra's `__complete`), so completion always matches the
/// verbs and options of the binary that is installed.
/// </summary>
public static class CompletionVerb
{
    public const string HiddenVerb = "__complete";

    public static void AddTo(RootCommand root, string tool)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var completion = new Command("completion", $"""
            Print a shell completion script: bash (source <({tool} completion bash)), zsh, fish ({tool} completion fish | source).

            Exit codes: 0 printed, 1 bad input (unknown shell).
            """);
        completion.Arguments.Add(shell);
        completion.SetAction(parse =>
        {
            parse.InvocationConfiguration.Output.Write(Script(parse.GetValue(shell)!, tool));
            return 0;
        });
        root.Subcommands.Add(completion);

        var line = new Argument<string>("LINE") { Description = "The command line up to the cursor, the tool's name first" };
        var complete = new Command(HiddenVerb, "Print completion candidates for LINE, one a line (used by the completion scripts)") { Hidden = true };
        complete.Arguments.Add(line);
        complete.SetAction(parse =>
        {
            foreach (var candidate in Candidates(root, parse.GetValue(line) ?? ""))
            {
                parse.InvocationConfiguration.Output.WriteLine(candidate);
            }
            return 0;
        });
        root.Subcommands.Add(complete);
    }

    /// <summary>What may come at the end of <paramref name="line"/> (its first word is the tool's name, as the shell passes it).</summary>
    public static IReadOnlyList<string> Candidates(RootCommand root, string line)
    {
        int space = line.IndexOfAny([' ', '\t']);
        var rest = space < 0 ? "" : line[(space + 1)..];
        return root.Parse(rest, ToolParser.Configuration()).GetCompletions(rest.Length)
            .Select(c => c.Label)
            .Where(label => label != HiddenVerb && !label.StartsWith('/') && label is not ("-?" or "-h"))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    public static string Script(string shell, string tool)
    {
        var fn = "_" + tool.Replace('-', '_') + "_complete";
        return shell switch
        {
            "bash" => $$"""
                # bash completion for {{tool}}: source <({{tool}} completion bash), or save it as /etc/bash_completion.d/{{tool}}
                {{fn}}() {
                    local IFS=$'\n'
                    COMPREPLY=($(compgen -W "$({{tool}} {{HiddenVerb}} "${COMP_LINE:0:COMP_POINT}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
                }
                complete -o default -F {{fn}} {{tool}}

                """,
            "zsh" => $$"""
                #compdef {{tool}}
                # zsh completion for {{tool}}: save it as _{{tool}} in a directory of $fpath, or source it after compinit
                {{fn}}() {
                    local -a candidates
                    candidates=("${(@f)$({{tool}} {{HiddenVerb}} "${BUFFER[1,CURSOR]}" 2>/dev/null)}")
                    compadd -a candidates
                }
                (( $+functions[compdef] )) && compdef {{fn}} {{tool}}

                """,
            "fish" => $$"""
                # fish completion for {{tool}}: {{tool}} completion fish | source, or save it as ~/.config/fish/completions/{{tool}}.fish
                complete -c {{tool}} -f -a '({{tool}} {{HiddenVerb}} (commandline -cp) 2>/dev/null)'

                """,
            _ => throw new ArgumentException($"no completion script for shell '{shell}': use bash, zsh or fish", nameof(shell)),
        };
    }
}
