using System.CommandLine;
using System.CommandLine.Invocation;

namespace Ppn.Cli;

/// <summary>How every PPN tool parses its command line.</summary>
public static class ToolParser
{
    /// <summary>
    /// Response files off: System.CommandLine would otherwise replace any `@PATH` word with the file's words,
    /// so `ppn uefi set NAME @PATH` ran whatever the file said (`--help`, another verb) and `@/dev/zero` grew
    /// without bound. `@PATH` reaches the verb as a literal; the verbs that take a file read it themselves, capped.
    /// </summary>
    public static ParserConfiguration Configuration() => new() { ResponseFileTokenReplacer = null };

    public static ParseResult Parse(Command root, IReadOnlyList<string> args) => root.Parse(args, Configuration());

    /// <summary>
    /// Parses and invokes. A usage error is one line, like every other failure: <c>TOOL: error: …; see `TOOL VERB --help`</c>
    /// on stderr, or under --json one <see cref="CliJson.Error"/> object on stdout (exit 1), instead of System.CommandLine's
    /// whole help page with the errors after it.
    /// </summary>
    public static int Run(Command root, IReadOnlyList<string> args, string tool, InvocationConfiguration configuration)
    {
        var parse = Parse(root, args);
        if (parse.Errors.Count > 0)
        {
            var message = UsageMessage(parse, tool);
            if (args.Contains("--json"))
            {
                configuration.Output.Write(CliJson.Error(tool, UsageError, message));
            }
            else
            {
                configuration.Error.WriteLine($"{tool}: error: {message}");
            }
            return UsageError;
        }
        return parse.Invoke(configuration);
    }

    /// <summary>
    /// The parse errors as one line, the one naming a token first ("Unrecognized command or argument 'x'" says more than
    /// "Required command was not provided", which is then left out), each unrecognized word with the verbs or options
    /// it is a likely typo of, then where the help is.
    /// </summary>
    public static string UsageMessage(ParseResult parse, string tool)
    {
        var command = parse.CommandResult.Command;
        bool namesToken = parse.UnmatchedTokens.Count > 0;
        var errors = parse.Errors
            .Select(e => string.Join(' ', e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.'))
            .Where(m => !(namesToken && command.Subcommands.Count > 0 && !m.Contains('\'')))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(m => m.Contains('\'') ? 0 : 1)
            .ToList();
        foreach (var token in parse.UnmatchedTokens.Distinct(StringComparer.Ordinal))
        {
            var names = token.StartsWith('-')
                ? command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name))
                : command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name));
            var near = LikelyMeant(token, names);
            if (near.Count == 0) continue;
            var hint = $" (did you mean {string.Join(" or ", near.Select(n => $"`{n}`"))}?)";
            int at = errors.FindIndex(m => m.EndsWith($"'{token}'", StringComparison.Ordinal));
            if (at >= 0) errors[at] += hint;
            else errors.Add($"'{token}'{hint}");
        }
        var path = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            path.Insert(0, result.Parent is null ? tool : result.Command.Name);
        }
        return $"{string.Join("; ", errors)}; see `{string.Join(' ', path)} --help`";
    }

    /// <summary>
    /// The names a mistyped <paramref name="word"/> most likely meant: those it is a prefix of, or else those at the
    /// smallest edit distance (insert, delete, substitute, swap two neighbours) when that is at most a third of the word.
    /// </summary>
    public static IReadOnlyList<string> LikelyMeant(string word, IEnumerable<string> names)
    {
        var candidates = names.Distinct(StringComparer.Ordinal).ToList();
        string bare = word.TrimStart('-');
        if (bare.Length >= 2)
        {
            var prefixed = candidates.Where(n => n.TrimStart('-').StartsWith(bare, StringComparison.Ordinal) && n != word).Order(StringComparer.Ordinal).ToList();
            if (prefixed.Count > 0) return prefixed;
        }
        int limit = Math.Max(1, bare.Length / 3);
        int best = int.MaxValue;
        var nearest = new List<string>();
        foreach (var name in candidates)
        {
            int d = EditDistance(word, name);
            if (d > limit || d > best) continue;
            if (d < best) { best = d; nearest.Clear(); }
            nearest.Add(name);
        }
        nearest.Sort(StringComparer.Ordinal);
        return nearest;
    }

    private static int EditDistance(string a, string b)
    {
        // Optimal string alignment distance: Levenshtein plus a swap of two neighbours ("stauts" for "status").
        int w = b.Length + 1;
        var d = new int[(a.Length + 1) * w];
        for (int i = 0; i <= a.Length; i++) d[i * w] = i;
        for (int j = 0; j <= b.Length; j++) d[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                int v = Math.Min(Math.Min(d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1), d[(i - 1) * w + j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = Math.Min(v, d[(i - 2) * w + j - 2] + 1);
                d[i * w + j] = v;
            }
        }
        return d[a.Length * w + b.Length];
    }

    /// <summary>
    /// A verb's listing in its parent's help shows only the first paragraph of its description: the verbs' own help
    /// ends with the exit-code table, and the root's help would otherwise repeat that table under every verb.
    /// </summary>
    public static void ListFirstParagraphs(Command root)
    {
        if (root.Options.OfType<System.CommandLine.Help.HelpOption>().FirstOrDefault() is { Action: SynchronousCommandLineAction help } option)
        {
            option.Action = new FirstParagraphHelp(help);
        }
    }

    /// <summary>
    /// System.CommandLine's help with the listed verbs' descriptions cut to their first paragraph while it renders (its
    /// HelpBuilder, which could customise one row, is not public in this version).
    /// </summary>
    private sealed class FirstParagraphHelp(SynchronousCommandLineAction help) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var listed = parseResult.CommandResult.Command.Subcommands;
            var full = listed.Select(c => c.Description).ToList();
            try
            {
                foreach (var verb in listed)
                {
                    if (verb.Description is { } text && text.IndexOf("\n\n", StringComparison.Ordinal) is > 0 and var end)
                    {
                        verb.Description = text[..end];
                    }
                }
                return help.Invoke(parseResult);
            }
            finally
            {
                for (int i = 0; i < listed.Count; i++)
                {
                    listed[i].Description = full[i];
                }
            }
        }
    }

    /// <summary>What System.CommandLine returns for a usage error; "bad input" in the tools' tables.</summary>
    public const int UsageError = 1;
}
