using Ppn.Rig.Model;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Tests;

/// <summary>
/// The rig's whole path against a busybox stand-in that keeps the node contract: NVRAM-backed key,
/// EUI-64 link-local address, banner on TCP 9443, reached from inside the rig's namespace.
/// </summary>
[Collection(EmulatorCollection.Name)]
public class StandInNodeTests
{
    [Fact]
    public void Modules_load_after_their_dependencies()
    {
        var dir = Directory.GetDirectories("/lib/modules").OrderBy(d => d, StringComparer.Ordinal).LastOrDefault();
        if (dir is null || !File.Exists(Path.Combine(dir, "modules.dep")))
        {
            return; // no kernel modules on this host: nothing to order
        }
        var order = StandInImage.LoadOrder(dir, ["virtio_net"]).Select(Path.GetFileName).ToList();
        Assert.Equal("virtio_net.ko", order[^1]);
        Assert.True(order.IndexOf("failover.ko") < order.IndexOf("net_failover.ko"));
    }

    [RigFact]
    public void The_rig_reads_the_banner_of_a_stand_in_node_and_its_key_survives_a_power_cut()
    {
        using var rig = Rig.Create("selftest-standin");
        var image = StandInImage.Build(Path.Combine(rig.WorkDirectory, "stand-in-image"));
        using var node = rig.FactoryNewNode("standin", image.ToBootSource());

        node.PowerOn();
        var first = node.AwaitGenesisKey();
        Assert.Equal(NodeState.Holding, node.State);
        Assert.Equal(32, Convert.FromBase64String(first).Length);
        node.WaitForLine(new Regex("^ppn: stand-in: self-genesis"), TimeSpan.FromSeconds(5));
        Assert.Equal(PowerOffOutcome.QmpQuit, node.PowerOff());

        node.PowerOn();
        Assert.Equal(first, node.AwaitGenesisKey());
        node.WaitForLine(new Regex("^ppn: stand-in: identity loaded from NVRAM"), TimeSpan.FromSeconds(5));
        node.PowerOff();
    }
}
