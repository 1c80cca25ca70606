using System.CommandLine;

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
    /// Parses and invokes. A usage error under --json is one <see cref="CliJson.Error"/> object on stdout (exit 1),
    /// like every other failure, instead of System.CommandLine's text and help.
    /// </summary>
    public static int Run(Command root, IReadOnlyList<string> args, string tool, InvocationConfiguration configuration)
    {
        var parse = Parse(root, args);
        if (parse.Errors.Count > 0 && args.Contains("--json"))
        {
            configuration.Output.Write(CliJson.Error(tool, UsageError, string.Join("; ", parse.Errors.Select(e => e.Message))));
            return UsageError;
        }
        return parse.Invoke(configuration);
    }

    /// <summary>What System.CommandLine returns for a usage error; "bad input" in the tools' tables.</summary>
    public const int UsageError = 1;
}
