using System.Net;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Genesis;
using Ppn.Rig.Emulation;
using Ppn.Rig.Net;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// A hostile control plane on the node's link, in the emulated node: beacons signed by a key the image does not
/// pin are counted and ignored (the scan window ends without a join, the node self-geneses and holds on 9443),
/// a claim by that rogue authority is refused (its Noise key is not pinned), and the genuine authority's claim
/// then enrols the node, which survives a reboot as "enrolled by restored (claim)".
/// </summary>
public class RogueAuthorityScenario
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [QuickScenario]
    public async Task Rogue_beacons_are_ignored_a_rogue_claim_is_refused_and_the_pinned_authority_claims_the_node()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("rogue-authority");
        var hub = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51820);
        using var genuine = AuthorityCredential.Generate(hub, new byte[32].Select((_, i) => (byte)(i + 1)).ToArray(), commandKeyEpoch: 0);
        using var rogue = AuthorityCredential.Generate(hub, new byte[32].Select((_, i) => (byte)(i + 1)).ToArray(), commandKeyEpoch: 0);
        var nodeJson = genuine.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(20), beaconPeriod: TimeSpan.FromSeconds(1)).ToJson();
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource().WithFiles(rig.WorkDirectory, "node-a",
            new Dictionary<string, byte[]> { ["/etc/ppn/node.json"] = nodeJson /* NodeConfig.ImagePath */ }));
        var network = AuthorityNetwork.InNamespace(rig.Namespace.Path);
        await using var rogueAuthority = await AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, "rogue.db"), rogue, new AuthoritySimulatorOptions { Network = network });
        await using var genuineAuthority = await AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, "registry.db"), genuine, new AuthoritySimulatorOptions { Network = network });
        using var stop = new CancellationTokenSource();

        node.PowerOn();
        var rogueBeacons = rogueAuthority.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
        var ignored = node.WaitForLine(new Regex(@"^ppn: genesis: beacon scan ignored (\d+) badly signed, (\d+) unknown-key"), Bound);
        var counts = new Regex(@"ignored (\d+) badly signed, (\d+) unknown-key").Match(ignored.Text);
        Assert.True(int.Parse(counts.Groups[1].Value) + int.Parse(counts.Groups[2].Value) > 0, $"the node saw none of the rogue beacons: {ignored.Text}");
        node.WaitForLine(new Regex(@"^ppn: genesis: no authority beacon in the scan window: self-genesis"), Bound);
        var key = node.AwaitGenesisKey();
        Assert.Empty(rogueAuthority.Registry.Bindings());
        Assert.DoesNotContain(node.Console.Snapshot(), l => l.Text.Contains("enrolled by", StringComparison.Ordinal));

        var holding = new IPEndPoint(new IPAddress(node.LinkLocalAddress.GetAddressBytes(), rig.Namespace.InterfaceIndex(Rig.TapName)), 9443);
        var refused = await rogueAuthority.ClaimAsync(holding, stop.Token);
        Assert.False(refused.Succeeded, "a claim by an authority whose key the image does not pin must fail");
        Assert.DoesNotContain(node.Console.Snapshot(), l => l.Text.StartsWith("ppn: genesis: claimed:", StringComparison.Ordinal));

        var claimed = await genuineAuthority.ClaimAsync(holding, stop.Token);
        Assert.True(claimed.Succeeded, claimed.Failure ?? claimed.Exchange?.Failure);
        Assert.Equal(key, Convert.ToBase64String(claimed.BannerNodeKey!));
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by claim: node \d+, 10\.8\.0\.\d+/24"), Bound);
        var binding = Assert.Single(genuineAuthority.Registry.Bindings());
        Assert.Equal(key, binding.NodePublicKeyBase64);

        node.PowerOff();
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by restored \(claim\): node " + binding.NodeId), Bound);
        stop.Cancel();
        try
        {
            await rogueBeacons;
        }
        catch (OperationCanceledException)
        {
        }
        node.PowerOff();
    }
}
