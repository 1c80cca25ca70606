using System.CommandLine;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.Nic.Rendering;
using Ppn.Nic.Tuning;

namespace Ppn.Appliance.Cli;

/// <summary>
/// `ppn nic show|tune|identify|stats`: NIC state and tuning through ethtool ioctls (no ethtool binary).
/// Without IFACE a verb covers every physical NIC (identify needs exactly one).
/// </summary>
public static class NicVerb
{
    public static Command Build() => Build(new SystemEthtool(), new SysfsNicDiscovery(), null);

    /// <summary>Test seam: the fake ethtool and a fake sysfs root.</summary>
    public static Command Build(IEthtool ethtool, INicDiscovery discovery, int? cpuCount)
    {
        var nic = new Command("nic", "Show, tune and identify the node's NICs (ethtool ioctls)");
        nic.Subcommands.Add(Show(ethtool, discovery));
        nic.Subcommands.Add(Tune(ethtool, discovery, cpuCount ?? Environment.ProcessorCount));
        nic.Subcommands.Add(Identify(ethtool, discovery));
        nic.Subcommands.Add(Stats(ethtool, discovery));
        return nic;
    }

    private static Argument<string?> Iface() => new("IFACE")
    {
        Description = "Interface name (default: every physical NIC)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Command Show(IEthtool ethtool, INicDiscovery discovery)
    {
        var iface = Iface();
        var command = new Command("show", "Driver, PCI id, link, rings, coalescing, pause, EEE, channels, features");
        command.Arguments.Add(iface);
        Verb.Run(command, (parse, output) =>
        {
            var snapshots = Select(discovery, parse.GetValue(iface)).Select(n => NicSnapshot.Read(ethtool, n)).ToList();
            if (output.Json)
            {
                output.WriteJson(NicJson.Show(snapshots), VerbJson.Nic.NicShowDocument);
            }
            else
            {
                foreach (var s in snapshots) NicText.WriteShow(output.Out, s);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Tune(IEthtool ethtool, INicDiscovery discovery, int cpuCount)
    {
        var iface = Iface();
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the plan (before -> after) and change nothing" };
        var profileName = new Option<string?>("--profile")
        {
            Description = $"Profile to use instead of the one matching the NIC ({string.Join(", ", ProfileCatalog.Default.Profiles.Select(p => p.Name))})",
        };
        var command = new Command("tune", "Apply the NIC's tuning profile: plan within the driver's maxima, apply, read back, roll back on failure");
        command.Arguments.Add(iface);
        command.Options.Add(dryRun);
        command.Options.Add(profileName);
        Verb.Run(command, (parse, output) =>
        {
            TuningProfile? forced = null;
            if (parse.GetValue(profileName) is { } name)
            {
                forced = ProfileCatalog.Default.Find(name) ?? throw new CliError(ExitCodes.BadInput,
                    $"no profile '{name}'; known: {string.Join(", ", ProfileCatalog.Default.Profiles.Select(p => p.Name))}");
            }
            var results = Select(discovery, parse.GetValue(iface))
                .Select(n => NicTuner.Tune(ethtool, n, forced ?? ProfileCatalog.Default.Select(n), cpuCount, parse.GetValue(dryRun)))
                .ToList();
            if (output.Json)
            {
                output.WriteJson(NicJson.Tune(results), VerbJson.Nic.NicTuneDocument);
            }
            else
            {
                foreach (var r in results) NicText.WriteTune(output.Out, r);
            }
            if (results.All(r => r.Succeeded))
            {
                return ExitCodes.Ok;
            }
            foreach (var r in results.Where(r => !r.Succeeded)) output.Error(NicTuner.Summary(r));
            return results.Any(r => r.Status == TuneStatus.Failed && r.Error?.Contains("no such interface", StringComparison.Ordinal) == true)
                ? ExitCodes.NotFound
                : ExitCodes.Failed;
        });
        return command;
    }

    private static Command Identify(IEthtool ethtool, INicDiscovery discovery)
    {
        var iface = Iface();
        var seconds = new Option<uint>("--seconds")
        {
            Description = "How long the port LED blinks (1..60)",
            DefaultValueFactory = _ => 5,
        };
        var command = new Command("identify", "Blink the port LED (ETHTOOL_PHYS_ID) so a technician finds the cable; returns when done");
        command.Arguments.Add(iface);
        command.Options.Add(seconds);
        Verb.Run(command, (parse, output) =>
        {
            var s = parse.GetValue(seconds);
            if (s is 0 or > 60)
            {
                throw new CliError(ExitCodes.BadInput, $"--seconds {s} is outside 1..60");
            }
            var nics = Select(discovery, parse.GetValue(iface));
            if (nics.Count != 1)
            {
                throw new CliError(ExitCodes.BadInput,
                    $"identify needs one interface; name one of: {string.Join(", ", nics.Select(n => n.Name))}");
            }
            output.Line($"{nics[0].Name}: blinking for {s} s");
            ethtool.IdentifyPort(nics[0].Name, s);
            return ExitCodes.Ok;
        }, json: false);
        return command;
    }

    private static Command Stats(IEthtool ethtool, INicDiscovery discovery)
    {
        var iface = Iface();
        var command = new Command("stats", "Driver statistics (ETH_SS_STATS counters)");
        command.Arguments.Add(iface);
        Verb.Run(command, (parse, output) =>
        {
            var stats = Select(discovery, parse.GetValue(iface))
                .Select(n => (n, ethtool.GetStatistics(n.Name)))
                .ToList();
            if (output.Json)
            {
                output.WriteJson(w => NicJson.WriteStats(w, stats));
            }
            else
            {
                foreach (var (n, values) in stats)
                {
                    output.Line($"{n.Name}:");
                    foreach (var v in values) output.Line($"  {v.Name}: {v.Value}");
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static IReadOnlyList<NicIdentity> Select(INicDiscovery discovery, string? iface)
    {
        if (iface is not null)
        {
            return [discovery.Find(iface) ?? throw new CliError(ExitCodes.NotFound, $"no interface '{iface}'; list them with `ppn nic show`")];
        }
        var physical = discovery.List().Where(n => n.IsPhysical).ToList();
        if (physical.Count == 0)
        {
            throw new CliError(ExitCodes.NotFound, "no physical NICs found under /sys/class/net; name an interface");
        }
        return physical;
    }
}
