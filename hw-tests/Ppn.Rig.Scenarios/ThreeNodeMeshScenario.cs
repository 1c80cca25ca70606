using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Commands;
using Ppn.Genesis;
using Ppn.Mesh.WireGuard;
using Ppn.Rig.Emulation;
using Ppn.Rig.Mesh;
using Ppn.Rig.Net;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The mesh of the design page with the kernel WireGuard module: three emulated nodes on one emulated LAN (a
/// bridge in the rig's namespace). Two spokes join through the rig's registrar and get 10.8.0.2 and 10.8.0.3
/// with the hub VM as their only peer; the hub VM runs the same image in the relay role (/etc/ppn/relay.conf,
/// forwarding) at 10.8.0.1. Each spoke pings the other through the hub (ppn.selftest=mesh-ping), and the rig,
/// a peer of the hub at 10.8.0.254 like the control plane, sends a sealed command to one spoke through the hub;
/// with that spoke's LAN link cut the next command cannot arrive, and once the link is healed it does.
/// </summary>
public class ThreeNodeMeshScenario
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);
    private static readonly IPAddress[] Spokes = [IPAddress.Parse("10.8.0.2"), IPAddress.Parse("10.8.0.3")];

    [FullScenario]
    public async Task Spokes_reach_each_other_through_the_hub_vm_and_a_command_crosses_the_mesh()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.CreateLan("mesh-3", ports: 3);
        var hubMac = MacAddress.NewEmulated();
        var hubLinkLocal = Eui64.LinkLocalFromMac(hubMac);
        using var hubKey = WireGuardPrivateKey.Generate();
        using var credential = AuthorityCredential.Generate(new IPEndPoint(hubLinkLocal, RigHub.ListenPort), hubKey.PublicKey().Bytes.ToArray(), commandKeyEpoch: 0);
        var nodeJson = credential.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(120), beaconPeriod: TimeSpan.FromSeconds(1)).ToJson();
        var ping = "ppn.selftest=mesh-ping:" + string.Join(',', Spokes.Select(a => a.ToString()));
        var spokeBoot = (string name) => image.ToBootSource(ping).WithFiles(rig.WorkDirectory, name,
            new Dictionary<string, byte[]> { ["/etc/ppn/node.json"] = nodeJson /* NodeConfig.ImagePath */ });
        using var spokeA = rig.LanNode("spoke-a", spokeBoot("spoke-a"), port: 1);
        using var spokeB = rig.LanNode("spoke-b", spokeBoot("spoke-b"), port: 2);
        await using var authority = await AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, "registry.db"), credential,
            new AuthoritySimulatorOptions { Network = AuthorityNetwork.InNamespace(rig.Namespace.Path) });
        using var stop = new CancellationTokenSource();

        // 1. Both spokes join; their ppn0 points at a hub that is not up yet (WireGuard keeps trying).
        spokeA.PowerOn();
        spokeB.PowerOn();
        var beacons = authority.EmitBeaconsAsync(Rig.BridgeName, TimeSpan.FromSeconds(1), stop.Token);
        foreach (var spoke in new[] { spokeA, spokeB })
        {
            spoke.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node \d+, 10\.8\.0\.[23]/24"), Bound);
            spoke.WaitForLine(new Regex(@"^ppn: commands: listening on 10\.8\.0\.[23]:8090"), Bound);
        }
        var bindings = authority.Registry.Bindings();
        Assert.Equal(Spokes.Select(a => a.ToString()).Order(), bindings.Select(b => b.Address.ToString()).Order());

        // 2. The hub VM: the same image in the relay role, its relay.conf naming both spokes and the rig.
        using var rigPeer = RigHub.StartBehindHub(rig.Namespace, hubKey.PublicKey(),
            new IPEndPoint(new IPAddress(hubLinkLocal.GetAddressBytes(), rig.Namespace.InterfaceIndex(Rig.BridgeName)), RigHub.ListenPort));
        var relay = new StringBuilder()
            .Append("[Interface]\nPrivateKey = ").Append(hubKey.RevealBase64()).Append("\nAddress = 10.8.0.1/24\nListenPort = 51820\nForwarding = true\n");
        foreach (var b in bindings)
        {
            relay.Append("\n[Peer]\nPublicKey = ").Append(b.NodePublicKeyBase64).Append("\nAllowedIPs = ").Append(b.Address).Append("/32\n");
        }
        relay.Append("\n[Peer]\nPublicKey = ").Append(rigPeer.PublicKey.ToBase64()).Append("\nAllowedIPs = 10.8.0.254/32\n");
        using var hubVm = rig.LanNode("hub", image.ToBootSource().WithFiles(rig.WorkDirectory, "hub",
            new Dictionary<string, byte[]> { ["/etc/ppn/relay.conf"] = Encoding.UTF8.GetBytes(relay.ToString()) }), port: 0, mac: hubMac);
        hubVm.PowerOn();
        hubVm.WaitForLine(new Regex(@"^ppn: relay: ppn0 up as 10\.8\.0\.1/24 with 3 peer\(s\), forwarding on"), Bound);

        // 3. Spoke to spoke through the hub: each spoke's mesh-ping self-test reaches the other spoke.
        foreach (var (spoke, own) in new[] { (spokeA, Address(spokeA)), (spokeB, Address(spokeB)) })
        {
            spoke.WaitForLine(new Regex(@"^ppn: selftest: mesh-ping: \d+ passed, \d+ failed"), Bound);
            var other = Spokes.Single(a => !a.Equals(own)).ToString();
            var result = spoke.Console.Snapshot().Select(l => l.Text)
                .Where(t => t.StartsWith("ppn: selftest: mesh-ping: {", StringComparison.Ordinal))
                .Select(t => JsonDocument.Parse(t["ppn: selftest: mesh-ping: ".Length..]).RootElement)
                .Single(r => r.GetProperty("target").GetString() == other);
            Assert.True(result.GetProperty("passed").GetBoolean(), $"{spoke.Name} ({own}) could not ping {other} through the hub: {result}");
        }

        // 4. A command from the control plane's place on the mesh, through the hub VM, executed by spoke B.
        var target = bindings.Single(b => b.Address.Equals(Address(spokeB)));
        using var sealer = CommandSealer.ForNode(credential.NoisePrivateKey, target.NodePublicKey);
        var noop = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node((ushort)target.NodeId), 1, noop);
        using var sender = rig.Namespace.RunInside(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp), TimeSpan.FromSeconds(10));
        var from = spokeB.Console.Count;
        var seen = new Regex(@"^ppn: commands: accepted noop \(argument 0\) for node \d+, epoch 0 counter 1 from 10\.8\.0\.254:\d+: executed");
        bool accepted = false;
        for (int attempt = 0; attempt < 60 && !accepted; attempt++)
        {
            sender.SendTo(noop, new IPEndPoint(target.Address, CommandListenerOptions.DefaultPort));
            accepted = spokeB.Console.TryWaitForLine(seen, TimeSpan.FromSeconds(1), from) is not null;
        }
        Assert.True(accepted, "spoke B never executed the noop the rig sent through the hub VM\n" + spokeB.Console.FormatTail());
        Assert.DoesNotContain(spokeA.Console.Snapshot(), l => l.Text.Contains("accepted noop", StringComparison.Ordinal));

        // 5. Cut spoke B's link at the LAN: the next command cannot reach it; heal it and the same command arrives.
        var second = new byte[CommandPacket.Size];
        sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node((ushort)target.NodeId), 2, second);
        var secondSeen = new Regex(@"^ppn: commands: accepted noop .* counter 2 from 10\.8\.0\.254:\d+: executed");
        rig.SetLanPort(2, up: false);
        from = spokeB.Console.Count;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            sender.SendTo(second, new IPEndPoint(target.Address, CommandListenerOptions.DefaultPort));
            Assert.Null(spokeB.Console.TryWaitForLine(secondSeen, TimeSpan.FromSeconds(1), from));
        }
        rig.SetLanPort(2, up: true);
        accepted = false;
        for (int attempt = 0; attempt < 60 && !accepted; attempt++)
        {
            sender.SendTo(second, new IPEndPoint(target.Address, CommandListenerOptions.DefaultPort));
            accepted = spokeB.Console.TryWaitForLine(secondSeen, TimeSpan.FromSeconds(1), from) is not null;
        }
        Assert.True(accepted, "spoke B did not get the command after its link was healed\n" + spokeB.Console.FormatTail());

        stop.Cancel();
        try
        {
            await beacons;
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var node in new[] { hubVm, spokeA, spokeB }) node.PowerOff();
    }

    private static IPAddress Address(QemuNode spoke)
    {
        var line = spoke.Console.Snapshot().First(l => l.Text.StartsWith("ppn: genesis: enrolled by join:", StringComparison.Ordinal)).Text;
        return IPAddress.Parse(new Regex(@"(10\.8\.0\.\d+)/24").Match(line).Groups[1].Value);
    }
}
