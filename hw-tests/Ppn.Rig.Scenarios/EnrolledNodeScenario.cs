using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Commands;
using Ppn.Genesis;
using Ppn.Rig.Emulation;
using Ppn.Rig.Mesh;
using Ppn.Rig.Net;
using Ppn.Rig.Running;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The whole life of a node in one emulated boot pair, against the rig playing os-network-admin: the node (no
/// IPv4, blind boot) hears the rig's signed beacon, joins through the rig's registrar (Noise IK, SQLite pairing
/// registry), stores the enrolment in its UEFI variables, brings ppn0 up to the rig's hub and listens on its mesh
/// address for authority commands. The rig sends a sealed noop through the tunnel and sees it executed. After a
/// power cycle the node restores the same identity and enrolment without joining again, and the captured noop is
/// rejected as a replay while the authority's next batch is accepted. A beacon-rescan command refreshes the same
/// enrolment; a genesis-reset arm + confirm pair erases the node, which reboots factory-new and joins anew.
/// </summary>
public class EnrolledNodeScenario
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [QuickScenario]
    public async Task Node_joins_by_beacon_executes_a_command_and_rejects_its_replay_after_a_reboot()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("enrolled-node");
        using var hub = RigHub.Start(rig.Namespace);
        var rigLinkLocal = Eui64.LinkLocalFromMac(TapMac(rig));
        using var credential = AuthorityCredential.Generate(new IPEndPoint(rigLinkLocal, RigHub.ListenPort), hub.PublicKey.Bytes.ToArray(), commandKeyEpoch: 0);
        var config = credential.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(90), beaconPeriod: TimeSpan.FromSeconds(1));
        var boot = image.ToBootSource().WithFiles(rig.WorkDirectory, "node-a", new Dictionary<string, byte[]> { ["/etc/ppn/node.json"] = config.ToJson() /* NodeConfig.ImagePath */ });
        using var node = rig.FactoryNewNode("node-a", boot);
        await using var authority = await AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, "registry.db"), credential,
            new AuthoritySimulatorOptions { Network = AuthorityNetwork.InNamespace(rig.Namespace.Path) });
        using var stop = new CancellationTokenSource();
        // The diode, checked where it matters: on the link and inside the tunnel, where the commands arrive in clear.
        var linkPcap = Path.Combine(rig.WorkDirectory, "link.pcapng");
        var tunnelPcap = Path.Combine(rig.WorkDirectory, "tunnel.pcapng");
        using var linkCapture = PacketCapture.Start(rig.Namespace, Rig.TapName, linkPcap);
        using var tunnelCapture = PacketCapture.Start(rig.Namespace, hub.Interface, tunnelPcap);

        node.PowerOn();
        var beacons = authority.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
        var enrolled = node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node (\d+), (10\.8\.0\.\d+)/24"), Bound);
        var binding = Assert.Single(authority.Registry.Bindings());
        var match = new Regex(@"node (\d+), (10\.8\.0\.\d+)/24").Match(enrolled.Text);
        Assert.Equal(binding.NodeId.ToString(CultureInfo.InvariantCulture), match.Groups[1].Value);
        Assert.Equal(binding.Address.ToString(), match.Groups[2].Value);
        hub.AddSpoke(binding.NodePublicKey, binding.Address);
        node.WaitForLine(new Regex($@"^ppn: commands: listening on {Regex.Escape(binding.Address.ToString())}:8090"), Bound);

        using var sealer = CommandSealer.ForNode(credential.NoisePrivateKey, binding.NodePublicKey);
        var target = TargetSelector.Node((ushort)binding.NodeId);
        var noop = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.Noop, 0, target, 1, noop);
        var destination = new IPEndPoint(binding.Address, CommandListenerOptions.DefaultPort);
        using var sender = rig.Namespace.RunInside(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp), TimeSpan.FromSeconds(10));
        // Resent until seen: the first datagrams may wait for the WireGuard handshake; copies are rejected as replays.
        SendUntil(node, sender, noop, destination, new Regex(@"^ppn: commands: accepted noop \(argument 0\) for node \d+, epoch 0 counter 1 from 10\.8\.0\.1:\d+: executed"));

        node.PowerOff();
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by restored \(join\): node " + binding.NodeId), Bound);
        node.WaitForLine(new Regex(@"^ppn: commands: listening on .* replay floor 255"), Bound);
        SendUntil(node, sender, noop, destination, new Regex(@"^ppn: commands: rejected \d+ datagram\(s\) .*\(last: replay from 10\.8\.0\.1:\d+\)"));
        var nextBatch = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.Noop, 0, target, 256, nextBatch);
        SendUntil(node, sender, nextBatch, destination, new Regex(@"^ppn: commands: accepted noop .* counter 256 .*: executed"));
        Assert.DoesNotContain(node.Console.Snapshot(), l => l.Text.Contains("counter 1 from", StringComparison.Ordinal) && l.Text.Contains("accepted", StringComparison.Ordinal));
        Assert.Single(authority.Registry.Bindings());

        // beacon-rescan: the node scans and joins again; the registrar's assignment is idempotent.
        var rescan = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.BeaconRescan, 0, target, 257, rescan);
        SendUntil(node, sender, rescan, destination, new Regex(@"^ppn: genesis: beacon rescan: enrolment refreshed \(node " + binding.NodeId + ", " + Regex.Escape(binding.Address.ToString()) + "/24"));
        Assert.Single(authority.Registry.Bindings());

        // genesis-reset, armed then confirmed with the same pairing code: identity and enrolment erased, reboot
        // (the emulator exits: -no-reboot), and the next boot is a factory-new node that joins as a new binding.
        var arm = new byte[CommandPacket.Size];
        var confirm = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.GenesisResetArm, 9, target, 258, arm);
        sealer.Seal(0, CommandIntent.GenesisResetConfirm, 9, target, 259, confirm);
        SendUntil(node, sender, arm, destination, new Regex(@"^ppn: commands: accepted genesis-reset-arm .*: armed"));
        sender.SendTo(confirm, destination);
        Assert.True(node.Exited.WaitOne(TimeSpan.FromMinutes(1)), "the node did not reboot after genesis-reset\n" + node.Console.FormatTail());
        Assert.Contains(node.Console.Snapshot(), l => l.Text.StartsWith("ppn: commands: genesis-reset: erasing identity", StringComparison.Ordinal));
        node.PowerOff();
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: identity created: "), Bound);
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node "), Bound);
        Assert.Equal(2, authority.Registry.Bindings().Count);

        stop.Cancel();
        try
        {
            await beacons; // ends at cancellation; a failure of the emitter would surface here
        }
        catch (OperationCanceledException)
        {
        }
        node.PowerOff();
        linkCapture.Stop();
        tunnelCapture.Stop();
        var mac = MacAddress.Format(node.Mac);
        Assert.True(PacketCapture.Count(linkPcap, $"eth.src == {mac}") > 0, "the link capture saw nothing from the node: it proves nothing");
        Assert.True(PacketCapture.Count(tunnelPcap, "udp.dstport == 8090") > 0, "the tunnel capture saw no command: it proves nothing");
        Assert.Equal(0, PacketCapture.Count(linkPcap, $"eth.src == {mac} && udp.dstport == 8090"));
        Assert.True(PacketCapture.Count(tunnelPcap, "udp && ip.src != 10.8.0.1") == 0,
            "the node sent UDP inside the tunnel: " + PacketCapture.Frames(tunnelPcap, "udp && ip.src != 10.8.0.1"));
    }

    /// <summary>Sends <paramref name="packet"/> once a second (bounded) until the console shows <paramref name="seen"/>.</summary>
    private static void SendUntil(QemuNode node, Socket sender, byte[] packet, IPEndPoint destination, Regex seen)
    {
        var from = node.Console.Count;
        for (int attempt = 0; attempt < 90; attempt++)
        {
            sender.SendTo(packet, destination);
            if (node.Console.TryWaitForLine(seen, TimeSpan.FromSeconds(1), from) is not null) return;
        }
        throw node.Failure($"the console never showed /{seen}/ while the rig sent {Convert.ToHexStringLower(packet)} to {destination} for 90 s");
    }

    private static string TapMac(Rig rig)
    {
        var text = rig.Namespace.Run("cat", $"/sys/class/net/{Rig.TapName}/address").StandardOutput.Trim();
        return text.Length == 17 ? text : throw new InvalidOperationException($"no MAC for {Rig.TapName} in {rig.Namespace.Name}: '{text}'");
    }
}
