using System.Text.Json;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;
using Ppn.Rig.Net;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// Our ethtool ioctls against a real driver: the node boots with QEMU's e1000e (Intel 82574L) and the real
/// e1000e driver, and PID 1 runs the NIC self-test (ppn.selftest=nic): rings, rx-usecs and pause are set to
/// other in-range values, read back and restored; an over-maximum ring is refused as out of range; the tuner
/// rolls an applied change back after a refused one. e1000e on an 82574L has no EEE (no FLAG2_HAS_EEE), so that
/// check must say "unsupported", never "passed". Build hosts cannot show any of this (veth implements none of it).
/// </summary>
public class NicSelfTestScenario
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private const string Prefix = "ppn: selftest: nic: ";

    [QuickScenario]
    public void The_e1000e_driver_takes_and_reports_back_what_our_ethtool_code_sets_and_the_node_still_comes_up()
    {
        var image = NodeImage.Locate();
        // loglevel=4: e1000e's "NIC Link is Up" (KERN_INFO) after each ring/pause reset must not land inside a
        // check line on the shared serial console.
        using var rig = Rig.Create("nic-selftest");
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource("ppn.selftest=nic loglevel=4"), NicModel.E1000e);
        node.PowerOn();

        var summary = node.WaitForLine(new Regex(@"^ppn: selftest: nic: (\d+) passed, (\d+) failed, (\d+) unsupported by driver$"), Bound);
        var checks = node.Console.Snapshot()
            .Select(l => l.Text)
            .Where(t => t.StartsWith(Prefix + "{", StringComparison.Ordinal))
            .Select(t => JsonDocument.Parse(t[Prefix.Length..]).RootElement)
            .ToList();
        JsonElement Check(string startsWith) => Assert.Single(checks, c => c.GetProperty("check").GetString()!.StartsWith(startsWith, StringComparison.Ordinal)
            && c.GetProperty("interface").ValueKind == JsonValueKind.String);

        var failed = checks.Where(c => c.GetProperty("result").GetString() == "failed").ToList();
        Assert.True(failed.Count == 0, "NIC checks failed on the node:\n" + string.Join('\n', failed.Select(c => c.ToString())));

        // One e1000e NIC, found through sysfs and driven by e1000e; GPERMADDR is the MAC the rig gave it.
        var read = Check("every read");
        Assert.Equal("passed", read.GetProperty("result").GetString());
        Assert.Equal("e1000e", read.GetProperty("driver").GetString());
        Assert.Equal("8086:10d3", read.GetProperty("pciId").GetString());
        Assert.Equal(MacAddress.Format(node.Mac).ToLowerInvariant(), read.GetProperty("permanentAddress").GetString());
        Assert.Contains("eee", read.GetProperty("unsupported").EnumerateArray().Select(e => e.GetString()));

        var rings = Check("rings: set");
        Assert.Equal("passed", rings.GetProperty("result").GetString());
        Assert.NotEqual(rings.GetProperty("before").GetProperty("rx").GetUInt32(), rings.GetProperty("readBack").GetProperty("rx").GetUInt32());
        Assert.Equal("passed", Check("rings: beyond").GetProperty("result").GetString());

        var coalesce = Check("coalesce rx-usecs");
        Assert.Equal("passed", coalesce.GetProperty("result").GetString());
        Assert.Equal(coalesce.GetProperty("set").GetUInt32(), coalesce.GetProperty("readBack").GetUInt32());
        Assert.Equal(coalesce.GetProperty("before").GetUInt32(), coalesce.GetProperty("restored").GetUInt32());

        var pause = Check("pause");
        Assert.Equal("passed", pause.GetProperty("result").GetString());
        Assert.False(pause.GetProperty("readBack").GetProperty("autoneg").GetBoolean());

        // Honest about what the driver does not do: 82574L has no EEE, so GEEE answers EOPNOTSUPP.
        var eee = Check("eee");
        Assert.Equal("unsupported", eee.GetProperty("result").GetString());
        Assert.Contains("unsupported by driver", eee.GetProperty("detail").GetString());

        var rollback = Check("apply rolls back");
        Assert.Equal("passed", rollback.GetProperty("result").GetString());
        Assert.Equal("rolled-back", rollback.GetProperty("status").GetString());
        Assert.True(rollback.GetProperty("stateAsBefore").GetBoolean());

        Assert.EndsWith("7 passed, 0 failed, 1 unsupported by driver", summary.Text);

        // The boot-time tuning saw the same NIC and, having no profile for it, left it alone.
        Assert.Contains(node.Console.Snapshot(), l => Regex.IsMatch(l.Text, @"^ppn: nic: \S+: profile generic: nothing to change \(no tuning profile for this NIC\)$"));

        // After all that the NIC still carries the node: the holding port answers over it.
        Assert.Equal(32, Convert.FromBase64String(node.AwaitGenesisKey()).Length);
        node.PowerOff();
    }
}
