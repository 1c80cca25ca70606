using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ppn.Appliance.Cli;

public static class VersionVerb
{
    public static Command Build()
    {
        var command = new Command("version", "Show the appliance version, build commit and runtime");
        Verb.Run(command, (_, output) =>
        {
            var (version, commit, _) = Telemetry.BuildInfo.Current();
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
        });
        return command;
    }
}
