using Ppn.Appliance.Cli;
using Ppn.Appliance.Init;

namespace Ppn.Appliance;

public static class Entry
{
    public static int Run(string[] args)
    {
        // As PID 1 the kernel passes its unparsed command-line words as arguments: they are not ours.
        if (Environment.ProcessId == 1)
        {
            InitVerb.RunAsPid1(new ConsoleLog(Console.Out));
            return 0; // never reached: PID 1 holds forever
        }
        return VersionVerb.RunWithoutTree(args, Console.Out, Console.Error) ?? CommandLine.Run(CommandLine.Build(), args);
    }
}
