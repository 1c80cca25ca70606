using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ppn.Appliance.Cli;

public static class VersionVerb
{
    public static Command Build()
    {
        var command = new Command("version", "Show the appliance version, build commit and runtime");
        Verb.Run(command, (_, output) => Write(output));
        return command;
    }

    /// <summary>
    /// `ppn version` and `ppn version --json` without the verb tree: building every verb (System.CommandLine
    /// objects, their resources) was a large part of the command's own start-up (docs/performance.md). Same
    /// output and exit code as through the tree (CliTests); null for any other command line.
    /// </summary>
    public static int? RunWithoutTree(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        bool json;
        if (args is ["version"]) json = false;
        else if (args is ["version", "--json"]) json = true;
        else return null;
        return Verb.Execute(new Output(stdout, stderr, json, verbose: false), Write);
    }

    private static int Write(Output output)
    {
        var (version, commit) = Telemetry.BuildInfo.Stamped();
        var aot = !RuntimeFeature.IsDynamicCodeSupported;
        if (output.Json)
        {
            output.WriteJson(new VersionDocument(version, commit, RuntimeInformation.FrameworkDescription,
                RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(), aot), VerbJson.Greppable.VersionDocument);
        }
        else
        {
            output.Line($"ppn {version} (commit {commit})");
            output.Line($"runtime {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}{(aot ? ", native AOT" : "")}");
        }
        return ExitCodes.Ok;
    }
}
