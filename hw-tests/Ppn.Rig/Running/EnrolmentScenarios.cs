using Ppn.Formats;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Commands;
using Ppn.Genesis;
using Ppn.Mesh.WireGuard;
using Ppn.Mesh.Sync;
using Ppn.Rig.Emulation;
using Ppn.Rig.Mesh;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Running;

/// <summary>
/// Scenarios with the rig as the control plane (docs/hw-tests.md §The rig as the control plane): the authority
/// simulator in the rig's namespace, the node's configuration pinning the rig's keys as an initramfs overlay, and
/// the rig's own WireGuard interface (RigHub) to send sealed commands through the tunnel.
/// </summary>
internal static class EnrolmentScenarios
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);
    private const string NodeConfigPath = "/etc/ppn/node.json"; // NodeConfig.ImagePath (ppn-image links that type too)

    private static BootSource WithNodeConfig(BootSource boot, Rig rig, string name, byte[] json) =>
        boot.WithFiles(rig.WorkDirectory, name, new Dictionary<string, byte[]> { [NodeConfigPath] = json });

    private static AuthoritySimulator StartAuthority(Rig rig, string file, AuthorityCredential credential, IPEndPoint? syncListen = null) =>
        AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, file), credential,
            new AuthoritySimulatorOptions { Network = AuthorityNetwork.InNamespace(rig.Namespace.Path), SyncListen = syncListen }).GetAwaiter().GetResult();

    private static void StopBeacons(CancellationTokenSource stop, Task beacons)
    {
        stop.Cancel();
        try
        {
            beacons.GetAwaiter().GetResult(); // ends at cancellation; a failure of the emitter surfaces here
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The replay window across a power cut, on any backend that boots the rig's node configuration: join by beacon,
    /// a sealed noop through ppn0 executed, the power cut, then the same identity and enrolment restored, the captured
    /// noop rejected as a replay (the floor persisted in NVRAM) and the next batch (256) executed.
    /// </summary>
    public static void ReplayAfterReboot(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("replay-after-reboot");
        using var hub = RigHub.Start(rig.Namespace);
        var rigLinkLocal = Eui64.LinkLocalFromMac(TapMac(rig));
        using var credential = HubCredential(rig, hub, rigLinkLocal);
        var node = FactoryNewNodeOf(ctx, rig, credential);
        using var authority = new AsyncDisposer(StartAuthority(rig, "registry.db", credential));
        using var stop = new CancellationTokenSource();

        node.PowerOn();
        var beacons = authority.Simulator.EmitBeaconsAsync(rig.Link, TimeSpan.FromSeconds(1), stop.Token);
        try
        {
            using var joined = JoinAndNoop(ctx, rig, node, hub, credential, authority.Simulator);
            ctx.Log("noop (counter 1) executed; power cut");

            var cut = node.PowerOff();
            ctx.Log($"power cut: {cut}");
            node.PowerOn();
            CapturedNoopRejectedAfterReboot(node, joined, authority.Simulator, "the power cut");
            ctx.Log("after the power cut: identity and enrolment restored, the captured noop rejected as a replay, the next batch (256) executed");
        }
        finally
        {
            StopBeacons(stop, beacons);
        }
        node.PowerOff();
    }

    /// <summary>
    /// Join by beacon, a command through the tunnel, the diode on the link and in the tunnel, and across a power
    /// cycle: same identity and enrolment, the captured command rejected as a replay, the next batch accepted;
    /// then beacon-rescan (same binding) and genesis-reset arm+confirm (erase, reboot, a new join).
    /// </summary>
    public static void EnrolledNode(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("enrolled-node");
        using var hub = RigHub.Start(rig.Namespace);
        var rigLinkLocal = Eui64.LinkLocalFromMac(TapMac(rig));
        using var credential = HubCredential(rig, hub, rigLinkLocal);
        var node = FactoryNewNodeOf(ctx, rig, credential);
        var authority = new AsyncDisposer(StartAuthority(rig, "registry.db", credential));
        using var authorityOwner = new Owner(() => authority.Dispose());
        var stop = new CancellationTokenSource();
        using var stopOwner = new Owner(() => stop.Dispose());
        var linkPcap = Path.Combine(rig.WorkDirectory, "link.pcapng");
        var tunnelPcap = Path.Combine(rig.WorkDirectory, "tunnel.pcapng");
        using var linkCapture = PacketCapture.Start(rig.Namespace, Rig.TapName, linkPcap);
        using var tunnelCapture = PacketCapture.Start(rig.Namespace, hub.Interface, tunnelPcap);

        node.PowerOn();
        var beacons = authority.Simulator.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
        using var joined = JoinAndNoop(ctx, rig, node, hub, credential, authority.Simulator);
        var (binding, sealer, target, destination, sender) = (joined.Binding, joined.Sealer, joined.Target, joined.Destination, joined.Sender);
        var match = new Regex(@"node (\d+), (10\.8\.0\.\d+)/24").Match(joined.Enrolled.Text);
        FailureClassifier.Require(match.Groups[1].Value == binding.NodeId.ToString(CultureInfo.InvariantCulture) && match.Groups[2].Value == binding.Address.ToString(),
            $"the node says '{joined.Enrolled.Text}', the registry node {binding.NodeId} at {binding.Address}");
        ctx.Log("noop (counter 1) executed; power cycle");

        node.PowerOff();
        node.PowerOn();
        CapturedNoopRejectedAfterReboot(node, joined, authority.Simulator, "the reboot");
        ctx.Log("after the reboot: the captured noop rejected as a replay, the next batch (256) executed");

        SendUntil(node, sender, Seal(sealer, CommandIntent.BeaconRescan, 0, target, 257), destination,
            new Regex(@"^ppn: genesis: beacon rescan: enrolment refreshed \(node " + binding.NodeId + ", " + Regex.Escape(binding.Address.ToString()) + "/24"));
        FailureClassifier.Require(authority.Simulator.Registry.Bindings().Count == 1, "beacon-rescan made a second binding");

        // A re-enrolment never reopens a used counter (docs/protocol/commands.md §Enrolment and the replay state): the
        // stored enrolment is damaged while the node is off, the node discards it and joins again, the registrar
        // returns the same grant (epoch 0), and the noop executed at counter 256 must stay a replay.
        var captured = Seal(sealer, CommandIntent.Noop, 0, target, 256);
        node.PowerOff();
        OvmfVariableFile.DamageVariable(node.NvramPath, "PpnEnrolment", 110);
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: stored enrolment not used: "), Bound);
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node " + binding.NodeId + ","), Bound);
        node.WaitForLine(new Regex(@"^ppn: commands: replay state kept across the re-enrolment: epoch 0, floor 511"), Bound);
        node.WaitForLine(new Regex(@"^ppn: commands: listening on .* replay floor 511"), Bound);
        SendUntil(node, sender, captured, destination, new Regex(@"^ppn: commands: rejected \d+ datagram\(s\) .*\(last: replay from 10\.8\.0\.1:\d+\)"));
        SendUntil(node, sender, Seal(sealer, CommandIntent.Noop, 0, target, 512), destination, new Regex(@"^ppn: commands: accepted noop .* counter 512 .*: executed"));
        // The console holds this boot's lines: the noop of counter 256 ran in the boot before the damage.
        FailureClassifier.Require(!node.Console.Snapshot().Any(l => l.Text.StartsWith("ppn: commands: accepted noop", StringComparison.Ordinal)
            && l.Text.Contains(" counter 256 from", StringComparison.Ordinal)), "the noop of counter 256 was executed again after the re-enrolment");
        FailureClassifier.Require(authority.Simulator.Registry.Bindings().Count == 1, "the re-join made a second binding");
        ctx.Log("damaged PpnEnrolment: the node joined again with the same grant, the replay record was kept, the captured noop stayed a replay");

        // The hub moves to another UDP port; the control plane re-issues its grants; a beacon-rescan makes the node's
        // ppn0 and command listener follow, and the next command arrives through the hub at its new port.
        // The control plane first: its registrar now hands out the moved hub; the hub itself moves once the rescan
        // command has come through it at the old port.
        StopBeacons(stop, beacons);
        authority.Dispose();
        const int MovedPort = RigHub.ListenPort + 1;
        using var movedCredential = credential.WithHub(new IPEndPoint(rigLinkLocal, MovedPort));
        authority = new AsyncDisposer(StartAuthority(rig, "registry.db", movedCredential));
        FailureClassifier.Require(authority.Simulator.Registry.ReissueGrants((ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds()) == 1, "the registry re-issued no grant");
        stop.Dispose();
        stop = new CancellationTokenSource();
        beacons = authority.Simulator.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
        SendUntil(node, sender, Seal(sealer, CommandIntent.BeaconRescan, 0, target, 513), destination, new Regex(@"^ppn: commands: accepted beacon-rescan .* counter 513 .*: executed"));
        hub.MoveListenPort(MovedPort);
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolment changed by the rescan: .* -> .*:" + MovedPort + " epoch 0; the command listener and ppn0 follow"), Bound);
        node.WaitForLine(new Regex(@"^ppn: mesh: ppn0 up as " + Regex.Escape(binding.Address.ToString()) + @"/24, hub .*:" + MovedPort), Bound);
        SendUntil(node, sender, Seal(sealer, CommandIntent.Noop, 0, target, 768), destination, new Regex(@"^ppn: commands: accepted noop .* counter 768 .*: executed"));
        ctx.Log($"the hub moved to port {MovedPort}: after the beacon-rescan ppn0 and the listener followed, the next command arrived");

        SendUntil(node, sender, Seal(sealer, CommandIntent.GenesisResetArm, 9, target, 769), destination, new Regex(@"^ppn: commands: accepted genesis-reset-arm .*: armed"));
        sender.SendTo(Seal(sealer, CommandIntent.GenesisResetConfirm, 9, target, 770), destination);
        FailureClassifier.Require(node.Exited.WaitOne(TimeSpan.FromMinutes(1)), "the node did not reboot after genesis-reset arm + confirm");
        FailureClassifier.Require(node.Console.Snapshot().Any(l => l.Text.StartsWith("ppn: commands: genesis-reset: erasing identity", StringComparison.Ordinal)),
            "the node rebooted without saying it erased its identity");
        node.PowerOff();
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: identity created: "), Bound);
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node "), Bound);
        FailureClassifier.Require(authority.Simulator.Registry.Bindings().Count == 2, "the reset node did not join as a new binding");
        ctx.Log("beacon-rescan kept the binding; genesis-reset erased the node, which joined anew");

        StopBeacons(stop, beacons);
        node.PowerOff();
        linkCapture.Stop();
        tunnelCapture.Stop();
        var mac = MacAddress.Format(node.Mac);
        if (PacketCapture.Count(linkPcap, $"eth.src == {mac}") == 0 || PacketCapture.Count(tunnelPcap, "udp.dstport == 8090") == 0)
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed, "the captures did not see the run (no frame from the node on the link, or no command in the tunnel): they prove nothing");
        }
        FailureClassifier.Require(PacketCapture.Count(linkPcap, $"eth.src == {mac} && udp.dstport == 8090") == 0,
            "the node sent to UDP 8090 on its link: " + PacketCapture.Frames(linkPcap, $"eth.src == {mac} && udp.dstport == 8090"));
        FailureClassifier.Require(PacketCapture.Count(tunnelPcap, "udp && ip.src != 10.8.0.1") == 0,
            "the node sent UDP inside the tunnel: " + PacketCapture.Frames(tunnelPcap, "udp && ip.src != 10.8.0.1"));
    }

    /// <summary>Rogue beacons ignored, a rogue claim refused, the pinned authority's claim enrols, restored after a reboot.</summary>
    public static void RogueAuthority(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("rogue-authority");
        var hub = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51820);
        var hubKey = new byte[32].Select((_, i) => (byte)(i + 1)).ToArray();
        using var genuine = AuthorityCredential.Generate(hub, hubKey, commandKeyEpoch: 0);
        using var rogue = AuthorityCredential.Generate(hub, hubKey, commandKeyEpoch: 0);
        var nodeJson = genuine.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(20), beaconPeriod: TimeSpan.FromSeconds(1)).ToJson();
        var node = ctx.FactoryNewNode(rig, "node-a", WithNodeConfig(ctx.Image.ToBootSource(), rig, "node-a", nodeJson));
        using var rogueAuthority = new AsyncDisposer(StartAuthority(rig, "rogue.db", rogue));
        using var genuineAuthority = new AsyncDisposer(StartAuthority(rig, "registry.db", genuine));
        using var stop = new CancellationTokenSource();

        node.PowerOn();
        var rogueBeacons = rogueAuthority.Simulator.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
        var ignored = node.WaitForLine(new Regex(@"^ppn: genesis: beacon scan ignored (\d+) badly signed, (\d+) unknown-key"), Bound);
        var counts = new Regex(@"ignored (\d+) badly signed, (\d+) unknown-key").Match(ignored.Text);
        FailureClassifier.Require(int.Parse(counts.Groups[1].Value, CultureInfo.InvariantCulture) + int.Parse(counts.Groups[2].Value, CultureInfo.InvariantCulture) > 0,
            $"the node saw none of the rogue beacons: {ignored.Text}");
        node.WaitForLine(new Regex(@"^ppn: genesis: no authority beacon in the scan window: self-genesis"), Bound);
        var key = node.AwaitGenesisKey();
        FailureClassifier.Require(rogueAuthority.Simulator.Registry.Bindings().Count == 0 && !node.Console.Snapshot().Any(l => l.Text.Contains("enrolled by", StringComparison.Ordinal)),
            "a rogue beacon led the node to enrol");
        ctx.Log($"rogue beacons ignored ({ignored.Text}); node-a holds as {key}");

        var holding = new IPEndPoint(new IPAddress(node.LinkLocalAddress.GetAddressBytes(), rig.Namespace.InterfaceIndex(Rig.TapName)), 9443);
        var refused = rogueAuthority.Simulator.ClaimAsync(holding, stop.Token).GetAwaiter().GetResult();
        FailureClassifier.Require(!refused.Succeeded && !node.Console.Snapshot().Any(l => l.Text.StartsWith("ppn: genesis: claimed:", StringComparison.Ordinal)),
            "a claim by an authority whose key the image does not pin was accepted");
        var claimed = genuineAuthority.Simulator.ClaimAsync(holding, stop.Token).GetAwaiter().GetResult();
        FailureClassifier.Require(claimed.Succeeded, $"the pinned authority's claim failed: {claimed.Failure ?? claimed.Exchange?.Failure}");
        FailureClassifier.Require(claimed.BannerNodeKey is not null && Convert.ToBase64String(claimed.BannerNodeKey) == key, "the claim bound another key than the banner's");
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by claim: node \d+, 10\.8\.0\.\d+/24"), Bound);
        var bindings = genuineAuthority.Simulator.Registry.Bindings();
        FailureClassifier.Require(bindings.Count == 1 && bindings[0].NodePublicKeyBase64 == key, "the registry does not hold exactly the claimed node");
        ctx.Log("rogue claim refused; the pinned authority's claim enrolled the node");

        node.PowerOff();
        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by restored \(claim\): node " + bindings[0].NodeId), Bound);
        StopBeacons(stop, rogueBeacons);
        node.PowerOff();
    }

    /// <summary>
    /// Issue 13 on the booted image: a holding node on a hostile link. From 125 extra link-local addresses on the
    /// rig's tap, an idle flood (1000 connections), slowloris, churn with RST, hellos naming the pinned key without
    /// its proof, and garbage hit 9443 while the genuine authority claims the node from the tap's own address. The
    /// claim must complete and the enrolled banner must answer; banner latency under attack is logged as a figure.
    /// </summary>
    public static void HostileLanClaim(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("hostile-lan-claim");
        var hub = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51820);
        using var genuine = AuthorityCredential.Generate(hub, new byte[32].Select((_, i) => (byte)(i + 1)).ToArray(), commandKeyEpoch: 0);
        var nodeJson = genuine.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(5), beaconPeriod: TimeSpan.FromSeconds(1)).ToJson();
        var node = ctx.FactoryNewNode(rig, "node-a", WithNodeConfig(ctx.Image.ToBootSource(), rig, "node-a", nodeJson));
        using var authority = new AsyncDisposer(StartAuthority(rig, "registry.db", genuine));
        var network = authority.Simulator.Network;

        node.PowerOn();
        node.WaitForLine(new Regex(@"^ppn: genesis: no authority beacon in the scan window: self-genesis"), Bound);
        var key = node.AwaitGenesisKey();
        // The tap has a carrier (and so its own link-local address) once the node is up; the attackers' come after it.
        var own = network.LinkLocalAddress(Rig.TapName)
            ?? throw new InvalidOperationException($"{Rig.TapName} has no link-local address in {rig.Namespace.Name} although the node answered on it");
        var sources = AddSourceAddresses(rig, 125);
        var holding = new IPEndPoint(new IPAddress(node.LinkLocalAddress.GetAddressBytes(), rig.Namespace.InterfaceIndex(Rig.TapName)), 9443);
        ctx.Log($"node-a holds as {key}; attacking [{node.LinkLocalAddress}%{Rig.TapName}]:9443 from {sources.Count} addresses");

        var idle = BannerLatencies(network, holding, own, 10);
        Genesis.Claim.ClaimResult claim;
        List<TimeSpan> underAttack;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var attack = LinkAttack.Start(Enum.GetValues<Attack>(), network, sources, holding, genuine.NoisePublicKey);
        try
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            while (attack.Connections < 2 * attack.Workers) // under way: the flood has filled the table and cycled
            {
                FailureClassifier.Require(started.Elapsed < Bound, $"the attack made only {attack.Connections} connections");
                Thread.Sleep(50);
            }
            underAttack = BannerLatencies(network, holding, own, 20);
            clock.Restart();
            claim = authority.Simulator.ClaimAsync(holding, CancellationToken.None, own).GetAwaiter().GetResult();
            var claimTime = clock.Elapsed;
            FailureClassifier.Require(claim.Succeeded, $"the genuine claim failed under attack: {claim.Failure}");
            node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by claim: node \d+, 10\.8\.0\.\d+/24"), Bound);
            var enrolled = EnrolledBanner(network, holding, own);
            FailureClassifier.Require(enrolled is not null && Genesis.Holding.GenesisBanner.TryParseEnrolled(enrolled, out var bannerNode, out var bannerAuthority)
                && Convert.ToBase64String(bannerNode) == key && bannerAuthority.AsSpan().SequenceEqual(genuine.NoisePublicKey),
                $"the enrolled banner did not answer under attack (last: {enrolled ?? "nothing"})");
            ctx.Log($"benchmark: claim under attack {claimTime.TotalMilliseconds:0} ms in {claim.Attempts} connection(s); attack connections {attack.Connections}");
        }
        finally
        {
            attack.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        ctx.Log($"benchmark: banner latency idle median {Median(idle):0.0} ms max {idle.Max().TotalMilliseconds:0.0} ms; under attack median {Median(underAttack):0.0} ms max {underAttack.Max().TotalMilliseconds:0.0} ms ({underAttack.Count} samples)");
        FailureClassifier.Require(!node.Console.Snapshot().Any(l => l.Text.Contains("holding listener:", StringComparison.Ordinal) || l.Text.Contains("connection handler failed", StringComparison.Ordinal)),
            "the holding listener logged a failure under attack");
        var bindings = authority.Simulator.Registry.Bindings();
        FailureClassifier.Require(bindings.Count == 1 && bindings[0].NodePublicKeyBase64 == key, "the registry does not hold exactly the claimed node");
        node.PowerOff();
    }

    private static double Median(List<TimeSpan> samples) => samples.Order().ElementAt(samples.Count / 2).TotalMilliseconds;

    // fe80::f:1 ... on the tap (flood sources), in one `ip -batch`.
    private static IReadOnlyList<IPAddress> AddSourceAddresses(Rig rig, int count)
    {
        var batch = Path.Combine(rig.WorkDirectory, "attack-addresses.batch");
        var addresses = Enumerable.Range(1, count).Select(i => IPAddress.Parse($"fe80::f:{i:x}")).ToList();
        File.WriteAllLines(batch, addresses.Select(a => $"addr add {a}/64 dev {Rig.TapName} nodad"));
        HostCommand.Run("ip", "-n", rig.Namespace.Name, "-batch", batch);
        int index = rig.Namespace.InterfaceIndex(Rig.TapName);
        return addresses.Select(a => new IPAddress(a.GetAddressBytes(), index)).ToList();
    }

    // Time from connect to the banner's line end, as a technician's nc sees it; a connection the flood's eviction
    // reset is not a sample (it is retried, bounded).
    private static List<TimeSpan> BannerLatencies(AuthorityNetwork network, IPEndPoint holding, IPAddress own, int samples)
    {
        var result = new List<TimeSpan>();
        for (int tries = 0; result.Count < samples && tries < samples * 5; tries++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (ReadBanner(network, holding, own) is not null) result.Add(clock.Elapsed);
        }
        FailureClassifier.Require(result.Count > 0, "the holding banner never answered");
        return result;
    }

    private static string? EnrolledBanner(AuthorityNetwork network, IPEndPoint holding, IPAddress own)
    {
        string? line = null;
        for (int tries = 0; tries < 20; tries++)
        {
            line = ReadBanner(network, holding, own);
            if (Genesis.Holding.GenesisBanner.TryParseEnrolled(line, out _, out _)) return line;
        }
        return line;
    }

    private static string? ReadBanner(AuthorityNetwork network, IPEndPoint holding, IPAddress own)
    {
        using var socket = network.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(own, 0));
        socket.ReceiveTimeout = socket.SendTimeout = 5000;
        try
        {
            var connect = socket.BeginConnect(holding, null, null);
            if (!connect.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(5))) return null;
            socket.EndConnect(connect);
            var buffer = new byte[Genesis.Holding.GenesisBanner.MaxLength];
            int got = 0;
            while (got < buffer.Length)
            {
                int n = socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
                if (n == 0) break;
                got += n;
                if (buffer[got - 1] == '\n') break;
            }
            return got == 0 ? null : Encoding.ASCII.GetString(buffer, 0, got);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static readonly IPAddress[] Spokes = [IPAddress.Parse("10.8.0.2"), IPAddress.Parse("10.8.0.3")];

    /// <summary>
    /// Hub VM (relay role, no key and no spoke in its image) + two spokes on one emulated LAN: the relay makes its own
    /// identity, the authority learns its key, the spokes join after the relay is running and the relay learns them
    /// from the signed peer set; ping spoke to spoke, a command through the hub, a cut and healed link.
    /// </summary>
    public static void ThreeNodeMesh(ScenarioContext ctx)
    {
        var rig = ctx.CreateLan("mesh-3", ports: 3);
        var hubMac = MacAddress.NewEmulated();
        var hubLinkLocal = Eui64.LinkLocalFromMac(hubMac);
        var hubEndpoint = new IPEndPoint(hubLinkLocal, RigHub.ListenPort);
        // The authority's keys exist before the relay (its image pins them); the hub's key only once the relay booted.
        using var provisional = AuthorityCredential.Generate(hubEndpoint, new byte[32], commandKeyEpoch: 0);
        var nodeJson = provisional.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(120), beaconPeriod: TimeSpan.FromSeconds(1)).ToJson();
        var ping = "ppn.selftest=mesh-ping:" + string.Join(',', Spokes.Select(a => a.ToString()));
        var spokeA = ctx.LanNode(rig, "spoke-a", WithNodeConfig(ctx.Image.ToBootSource(ping), rig, "spoke-a", nodeJson), port: 1);
        var spokeB = ctx.LanNode(rig, "spoke-b", WithNodeConfig(ctx.Image.ToBootSource(ping), rig, "spoke-b", nodeJson), port: 2);
        // The authority's sync port on the rig's side of the LAN (it starts once the hub's key is known).
        var authoritySync = new IPAddress(AuthorityNetwork.InNamespace(rig.Namespace.Path).WaitForLinkLocalAsync(Rig.BridgeName, TimeSpan.FromSeconds(10)).GetAwaiter().GetResult().GetAddressBytes());

        // 1. The hub VM: the same image in the relay role. Its relay.conf names no key and no spoke: only its
        //    interface, the rig's console peer (static) and the authority's sync port; node.json pins the authority.
        //    It makes its own identity and says its public key.
        using var rigPeerKey = WireGuardPrivateKey.Generate(); // the rig peer below takes it over
        var relay = new StringBuilder()
            .Append("[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\nForwarding = true\n")
            .Append("\n[Peer]\nPublicKey = ").Append(rigPeerKey.PublicKey().ToBase64()).Append("\nAllowedIPs = 10.8.0.254/32\n")
            .Append("\n[Sync]\nAuthority = [").Append(authoritySync).Append("]:").Append(SyncWire.DefaultPort).Append('\n');
        var hubVm = ctx.LanNode(rig, "hub", ctx.Image.ToBootSource().WithFiles(rig.WorkDirectory, "hub",
            new Dictionary<string, byte[]> { ["/etc/ppn/relay.conf"] = Encoding.UTF8.GetBytes(relay.ToString()), ["/etc/ppn/node.json"] = nodeJson }), port: 0, mac: hubMac);
        hubVm.PowerOn();
        var said = hubVm.WaitForLine(new Regex(@"^ppn: relay: identity (\S{44}) created from "), Bound);
        if (!WireGuardKey.TryParseBase64(new Regex(@"identity (\S{44})").Match(said.Text).Groups[1].Value, out var hubKey))
        {
            throw hubVm.Failure($"the relay's identity line carries no WireGuard key: {said.Text}");
        }
        using var rigPeer = RigHub.StartBehindHub(rig.Namespace, hubKey,
            new IPEndPoint(new IPAddress(hubLinkLocal.GetAddressBytes(), rig.Namespace.InterfaceIndex(Rig.BridgeName)), RigHub.ListenPort), key: rigPeerKey);
        ctx.Log($"hub VM up in the relay role with its own identity {hubKey.ToBase64()}");

        // 2. The authority learns the hub's key; both spokes join after the relay is running, and the relay learns
        //    them from the authority-signed peer set (docs/protocol/sync.md) with nothing rebuilt.
        using var credential = provisional.WithHub(hubEndpoint, hubKey.Bytes);
        using var authority = new AsyncDisposer(StartAuthority(rig, "registry.db", credential, new IPEndPoint(IPAddress.IPv6Any, SyncWire.DefaultPort)));
        using var stop = new CancellationTokenSource();
        spokeA.PowerOn();
        spokeB.PowerOn();
        var beacons = authority.Simulator.EmitBeaconsAsync(Rig.BridgeName, TimeSpan.FromSeconds(1), stop.Token);
        foreach (var spoke in new[] { spokeA, spokeB })
        {
            spoke.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node \d+, 10\.8\.0\.[23]/24"), Bound);
            spoke.WaitForLine(new Regex(@"^ppn: commands: listening on 10\.8\.0\.[23]:8090"), Bound);
        }
        var bindings = authority.Simulator.Registry.Bindings();
        FailureClassifier.Require(bindings.Select(b => b.Address.ToString()).Order().SequenceEqual(Spokes.Select(a => a.ToString()).Order()),
            "the spokes did not get 10.8.0.2 and 10.8.0.3: " + string.Join(", ", bindings.Select(b => b.Address)));
        hubVm.WaitForLine(new Regex(@"^ppn: relay: ppn0 converged to peer set serial \d+ \(3 peer\(s\)\)"), Bound);
        ctx.Log("both spokes joined after the relay was up; the relay learned them from the signed peer set");

        // 3. Spoke to spoke through the hub: each spoke's mesh-ping self-test reaches the other spoke.
        foreach (var spoke in new[] { spokeA, spokeB })
        {
            var own = Address(spoke);
            spoke.WaitForLine(new Regex(@"^ppn: selftest: mesh-ping: \d+ passed, \d+ failed"), Bound);
            var other = Spokes.Single(a => !a.Equals(own)).ToString();
            var result = SelfTestLine.MeshPingResults(spoke.Console.Snapshot().Select(l => l.Text)).Single(r => r.Target == other);
            FailureClassifier.Require(result.Passed, $"{spoke.Name} ({own}) could not ping {other} through the hub: {result}");
        }
        ctx.Log("each spoke pinged the other through the hub");

        // 4. A command from the control plane's place on the mesh, through the hub VM, executed by spoke B.
        var target = bindings.Single(b => b.Address.Equals(Address(spokeB)));
        using var sealer = CommandSealer.ForNode(credential.NoisePrivateKey, target.NodePublicKey);
        var destination = new IPEndPoint(target.Address, CommandListenerOptions.DefaultPort);
        using var sender = rig.Namespace.RunInside(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp), TimeSpan.FromSeconds(10));
        SendUntil(spokeB, sender, Seal(sealer, CommandIntent.Noop, 0, TargetSelector.Node((ushort)target.NodeId), 1), destination,
            new Regex(@"^ppn: commands: accepted noop \(argument 0\) for node \d+, epoch 0 counter 1 from 10\.8\.0\.254:\d+: executed"));
        FailureClassifier.Require(!spokeA.Console.Snapshot().Any(l => l.Text.Contains("accepted noop", StringComparison.Ordinal)), "spoke A executed a command sealed for spoke B");
        ctx.Log("a noop from 10.8.0.254 crossed the hub and was executed by spoke B");

        // 5. Cut spoke B's link at the LAN: the next command cannot reach it; heal it and the same command arrives.
        var second = Seal(sealer, CommandIntent.Noop, 0, TargetSelector.Node((ushort)target.NodeId), 2);
        var secondSeen = new Regex(@"^ppn: commands: accepted noop .* counter 2 from 10\.8\.0\.254:\d+: executed");
        rig.SetLanPort(2, up: false);
        int from = spokeB.Console.Count;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            sender.SendTo(second, destination);
            FailureClassifier.Require(spokeB.Console.TryWaitForLine(secondSeen, TimeSpan.FromSeconds(1), from) is null, "a command reached spoke B through a cut link");
        }
        rig.SetLanPort(2, up: true);
        SendUntil(spokeB, sender, second, destination, secondSeen);
        ctx.Log("with spoke B's link cut the command did not arrive; healed, it did");

        // 6. The authority goes away, then the relay loses power and boots again: the same identity (restored, not made
        //    anew) and both spokes from the roster it kept in UEFI variables, with no authority to ask; the control
        //    plane's command crosses it once more.
        StopBeacons(stop, beacons);
        authority.Dispose();
        hubVm.PowerOff();
        hubVm.PowerOn();
        hubVm.WaitForLine(new Regex($@"^ppn: relay: identity {Regex.Escape(hubKey.ToBase64())} restored from "), Bound);
        hubVm.WaitForLine(new Regex(@"^ppn: relay: relay roster restored: serial \d+: 2 spoke\(s\)"), Bound);
        hubVm.WaitForLine(new Regex(@"^ppn: relay: ppn0 converged to the kept roster of serial \d+ \(3 peer\(s\)\)"), Bound);
        SendUntil(spokeB, sender, Seal(sealer, CommandIntent.Noop, 0, TargetSelector.Node((ushort)target.NodeId), 3), destination,
            new Regex(@"^ppn: commands: accepted noop .* counter 3 from 10\.8\.0\.254:\d+: executed"));
        ctx.Log("with the authority gone, the relay came back from a power cut with the same identity and its kept roster; a command crossed it again");

        foreach (var n in new[] { hubVm, spokeA, spokeB }) n.PowerOff();
    }

    /// <summary>The rig as the control plane: its hub on the tap's link-local address, pinned with the command keys.</summary>
    private static AuthorityCredential HubCredential(Rig rig, RigHub hub, IPAddress rigLinkLocal) =>
        AuthorityCredential.Generate(new IPEndPoint(rigLinkLocal, RigHub.ListenPort), hub.PublicKey.Bytes.ToArray(), commandKeyEpoch: 0);

    /// <summary>A factory-new node-a booting the node configuration of <paramref name="credential"/> (a 90 s beacon scan).</summary>
    private static IRigNode FactoryNewNodeOf(ScenarioContext ctx, Rig rig, AuthorityCredential credential)
    {
        var config = credential.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(90), beaconPeriod: TimeSpan.FromSeconds(1));
        return ctx.FactoryNewNode(rig, "node-a", WithNodeConfig(ctx.Image.ToBootSource(), rig, "node-a", config.ToJson()));
    }

    /// <summary>A node that joined by beacon, as the control plane holds it: its binding and a sealer, sender and target for its commands.</summary>
    private sealed class JoinedNode(ConsoleLine enrolled, Binding binding, CommandSealer sealer, Socket sender) : IDisposable
    {
        public ConsoleLine Enrolled { get; } = enrolled;
        public Binding Binding { get; } = binding;
        public CommandSealer Sealer { get; } = sealer;
        public Socket Sender { get; } = sender;
        public TargetSelector Target => TargetSelector.Node((ushort)Binding.NodeId);
        public IPEndPoint Destination => new(Binding.Address, CommandListenerOptions.DefaultPort);

        public void Dispose()
        {
            Sender.Dispose();
            Sealer.Dispose();
        }
    }

    /// <summary>
    /// The join by beacon and the first command: the registry holds exactly the node's binding, the rig's hub takes it as
    /// a spoke, the listener comes up on the mesh address and a sealed noop (counter 1) through ppn0 is executed.
    /// </summary>
    private static JoinedNode JoinAndNoop(ScenarioContext ctx, Rig rig, IRigNode node, RigHub hub, AuthorityCredential credential, AuthoritySimulator authority)
    {
        var enrolled = node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node (\d+), (10\.8\.0\.\d+)/24"), Bound);
        var bindings = authority.Registry.Bindings();
        FailureClassifier.Require(bindings.Count == 1, $"the registry holds {bindings.Count} bindings after one join");
        var binding = bindings[0];
        ctx.Log($"{node.Name} ({node.Backend}) joined as node {binding.NodeId} at {binding.Address}");
        hub.AddSpoke(binding.NodePublicKey, binding.Address);
        node.WaitForLine(new Regex($@"^ppn: commands: listening on {Regex.Escape(binding.Address.ToString())}:8090"), Bound);

        var joined = new JoinedNode(enrolled, binding, CommandSealer.ForNode(credential.NoisePrivateKey, binding.NodePublicKey),
            rig.Namespace.RunInside(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp), TimeSpan.FromSeconds(10)));
        SendUntil(node, joined.Sender, CapturedNoop(joined), joined.Destination,
            new Regex(@"^ppn: commands: accepted noop \(argument 0\) for node \d+, epoch 0 counter 1 from 10\.8\.0\.1:\d+: executed"));
        return joined;
    }

    /// <summary>The noop of counter 1, as the rig sent it and as a capture on the wire holds it.</summary>
    private static byte[] CapturedNoop(JoinedNode joined) => Seal(joined.Sealer, CommandIntent.Noop, 0, joined.Target, 1);

    /// <summary>
    /// After a power cycle of a <see cref="JoinAndNoop"/> node: identity and enrolment restored (no second binding), the
    /// replay floor persisted, the captured noop rejected as a replay and the next batch (counter 256) executed.
    /// </summary>
    private static void CapturedNoopRejectedAfterReboot(IRigNode node, JoinedNode joined, AuthoritySimulator authority, string cycle)
    {
        node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by restored \(join\): node " + joined.Binding.NodeId), Bound);
        node.WaitForLine(new Regex(@"^ppn: commands: listening on .* replay floor 255"), Bound);
        SendUntil(node, joined.Sender, CapturedNoop(joined), joined.Destination, new Regex(@"^ppn: commands: rejected \d+ datagram\(s\) .*\(last: replay from 10\.8\.0\.1:\d+\)"));
        SendUntil(node, joined.Sender, Seal(joined.Sealer, CommandIntent.Noop, 0, joined.Target, 256), joined.Destination, new Regex(@"^ppn: commands: accepted noop .* counter 256 .*: executed"));
        FailureClassifier.Require(!node.Console.Snapshot().Any(l => l.Text.Contains("accepted", StringComparison.Ordinal) && l.Text.Contains("counter 1 from", StringComparison.Ordinal)),
            $"the noop captured before {cycle} was executed again after it");
        FailureClassifier.Require(authority.Registry.Bindings().Count == 1, "the restored node joined again");
    }

    private static byte[] Seal(CommandSealer sealer, CommandIntent intent, byte argument, TargetSelector target, uint counter)
    {
        var packet = new byte[CommandPacket.Size];
        sealer.Seal(0, intent, argument, target, counter, packet);
        return packet;
    }

    /// <summary>Sends <paramref name="packet"/> once a second (bounded) until the console shows <paramref name="seen"/>.</summary>
    private static void SendUntil(IRigNode node, Socket sender, byte[] packet, IPEndPoint destination, Regex seen)
    {
        var from = node.Console.Count;
        for (int attempt = 0; attempt < 90; attempt++)
        {
            sender.SendTo(packet, destination);
            if (node.Console.TryWaitForLine(seen, TimeSpan.FromSeconds(1), from) is not null) return;
        }
        throw node.Failure($"the console never showed /{seen}/ while the rig sent {Convert.ToHexStringLower(packet)} to {destination} for 90 s");
    }

    private static IPAddress Address(IRigNode spoke)
    {
        var line = spoke.Console.Snapshot().First(l => l.Text.StartsWith("ppn: genesis: enrolled by join:", StringComparison.Ordinal)).Text;
        return IPAddress.Parse(new Regex(@"(10\.8\.0\.\d+)/24").Match(line).Groups[1].Value);
    }

    private static string TapMac(Rig rig)
    {
        var text = rig.Namespace.Run("cat", $"/sys/class/net/{rig.Link}/address").StandardOutput.Trim();
        return text.Length == 17 ? text : throw new InvalidOperationException($"no MAC for {rig.Link} in {rig.Namespace.Name}: '{text}'");
    }

    /// <summary>Disposes what a variable holds at the end of the scope, after the scenario replaced it.</summary>
    private sealed class Owner(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    /// <summary>The simulator is IAsyncDisposable; the runner's bodies are synchronous.</summary>
    private sealed class AsyncDisposer(AuthoritySimulator simulator) : IDisposable
    {
        private bool _disposed;
        public AuthoritySimulator Simulator { get; } = simulator;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            Simulator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
