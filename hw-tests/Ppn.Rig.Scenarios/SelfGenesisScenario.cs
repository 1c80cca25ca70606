using Ppn.Rig.Model;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// A factory-new node with no beacon in reach self-geneses: it makes an X25519 keypair, keeps it in a
/// UEFI variable, and holds on TCP 9443 of its link-local address announcing
/// <c>PPN-GENESIS/1 &lt;public key&gt;</c>. The identity is the node's NVRAM: the same NVRAM after a power cut
/// gives the same key, a factory-new NVRAM gives another.
/// </summary>
public class SelfGenesisScenario
{
    private static readonly Regex PpnLine = new("^ppn:");

    /// <summary>The image under test; fails (never skips) with how to make one when it is missing.</summary>
    private static NodeImage Image() => NodeImage.Locate();

    [QuickScenario]
    public void Factory_new_node_self_geneses_and_announces_its_public_key_on_port_9443()
    {
        var image = Image();
        using var rig = Rig.Create("self-genesis-first-boot");
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource());

        node.PowerOn();
        var key = node.AwaitGenesisKey();

        Assert.Equal(NodeState.Holding, node.State);
        Assert.Equal(32, Convert.FromBase64String(key).Length);
        Assert.NotNull(node.Console.TryWaitForLine(PpnLine, TimeSpan.Zero));
        Assert.Equal(PowerOffOutcome.QmpQuit, node.PowerOff());
    }

    [QuickScenario]
    public void Identity_survives_a_power_cut_because_it_lives_in_the_node_nvram()
    {
        var image = Image();
        using var rig = Rig.Create("self-genesis-power-cut");
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource());

        node.PowerOn();
        var first = node.AwaitGenesisKey();
        node.PowerOff();

        node.PowerOn();
        var second = node.AwaitGenesisKey();
        node.PowerOff();

        Assert.Equal(first, second);
    }

    [FullScenario]
    public void Same_nvram_keeps_the_identity_and_a_factory_new_node_gets_another()
    {
        var image = Image();
        using var rig = Rig.Create("self-genesis-full");
        using var nodeA = rig.FactoryNewNode("node-a", image.ToBootSource());
        using var nodeB = rig.FactoryNewNode("node-b", image.ToBootSource());

        nodeA.PowerOn();
        var boot1 = nodeA.AwaitGenesisKey();
        nodeA.PowerOff();

        nodeA.PowerOn();
        var boot2 = nodeA.AwaitGenesisKey();
        nodeA.PowerOff();

        nodeB.PowerOn();
        var boot3 = nodeB.AwaitGenesisKey();
        nodeB.PowerOff();

        Assert.Equal(boot1, boot2);
        Assert.NotEqual(boot1, boot3);
    }

    [FullScenario]
    public void Identity_survives_the_reset_button()
    {
        var image = Image();
        using var rig = Rig.Create("self-genesis-reset");
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource());

        node.PowerOn();
        var before = node.AwaitGenesisKey();
        int linesBeforeReset = node.Console.Count;
        node.Reset();
        Assert.Equal(NodeState.Booting, node.State);
        // Wait for the second boot's own announcement before connecting, so the banner is the rebooted node's.
        node.WaitForLine(PpnLine, QemuNode.DefaultHoldingTimeout, linesBeforeReset);
        var after = node.AwaitGenesisKey();
        node.PowerOff();

        Assert.Equal(before, after);
    }
}
