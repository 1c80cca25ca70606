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
}
