using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Ppn.Authority;
using Ppn.Commands;
using Ppn.Genesis;
using Ppn.Rig.Emulation;
using Ppn.Rig.Fleet;
using Ppn.Rig.Mesh;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Running;

/// <summary>
/// The fleet's telemetry as the control plane sees it (docs/telemetry.md): an emulated node joins, a real Prometheus
/// in the rig's (hub's) namespace scrapes its /metrics through the tunnel, and the accept and replay counters it
/// reports through /api/v1/query move exactly as the commands the rig sends.
/// </summary>
internal static class TelemetryScenarios
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);
    private const string NodeConfigPath = "/etc/ppn/node.json";

    public static void FleetTelemetry(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("fleet-telemetry");
        using var hub = RigHub.Start(rig.Namespace);
        var tapMac = rig.Namespace.Run("cat", $"/sys/class/net/{Rig.TapName}/address").StandardOutput.Trim();
        var rigLinkLocal = Eui64.LinkLocalFromMac(tapMac);
        using var credential = AuthorityCredential.Generate(new IPEndPoint(rigLinkLocal, RigHub.ListenPort), hub.PublicKey.Bytes.ToArray(), commandKeyEpoch: 0);
        var config = credential.NodeConfigFor(scanWindow: TimeSpan.FromSeconds(90), beaconPeriod: TimeSpan.FromSeconds(1));
        var node = ctx.FactoryNewNode(rig, "node-a",
            ctx.Image.ToBootSource().WithFiles(rig.WorkDirectory, "node-a", new Dictionary<string, byte[]> { [NodeConfigPath] = config.ToJson() }));
        var authority = AuthoritySimulator.StartAsync(Path.Combine(rig.WorkDirectory, "registry.db"), credential,
            new AuthoritySimulatorOptions { Network = AuthorityNetwork.InNamespace(rig.Namespace.Path) }).GetAwaiter().GetResult();
        using var stop = new CancellationTokenSource();
        Task? beacons = null;
        try
        {
            node.PowerOn();
            beacons = authority.EmitBeaconsAsync(Rig.TapName, TimeSpan.FromSeconds(1), stop.Token);
            node.WaitForLine(new Regex(@"^ppn: genesis: enrolled by join: node (\d+), (10\.8\.0\.\d+)/24"), Bound);
            var binding = authority.Registry.Bindings().Single();
            hub.AddSpoke(binding.NodePublicKey, binding.Address);
            var address = Regex.Escape(binding.Address.ToString());
            node.WaitForLine(new Regex($@"^ppn: commands: listening on {address}:8090"), Bound);
            node.WaitForLine(new Regex($@"^ppn: telemetry: serving metrics on http://{address}:9100/metrics"), Bound);
            ctx.Log($"node-a joined as node {binding.NodeId} at {binding.Address}, serving /metrics");

            var target = new IPEndPoint(binding.Address, 9100);
            using var prometheus = PrometheusServer.Start(rig.Namespace, rig.WorkDirectory, "ppn", [target]);
            // Scrapes go through ppn0: a node that answered only on its link, or not at all, stays down.
            FailureClassifier.Require(prometheus.WaitFor("up{job=\"ppn\"}", v => v == 1, Bound) is not null,
                $"Prometheus never scraped the node's /metrics through the tunnel: {prometheus.Describe("up")}");
            FailureClassifier.Require(prometheus.WaitFor("ppn_node_id", v => v == binding.NodeId, Bound) is not null,
                $"the scraped node id is not the registry's {binding.NodeId}: {prometheus.Describe("ppn_node_id")}");
            const string Accept = "ppn_commands_total{verdict=\"accept\"}", Replay = "ppn_commands_total{verdict=\"replay\"}";
            FailureClassifier.Require(prometheus.Scalar(Accept) == 0 && prometheus.Scalar(Replay) == 0,
                $"counters before any command: {prometheus.Describe("ppn_commands_total")}");
            ctx.Log("Prometheus scrapes the node through the tunnel: up 1, accept 0, replay 0");

            using var sealer = CommandSealer.ForNode(credential.NoisePrivateKey, binding.NodePublicKey);
            var selector = TargetSelector.Node((ushort)binding.NodeId);
            var destination = new IPEndPoint(binding.Address, CommandListenerOptions.DefaultPort);
            using var sender = rig.Namespace.RunInside(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp), TimeSpan.FromSeconds(10));
            byte[] Seal(uint counter)
            {
                var packet = new byte[CommandPacket.Size];
                sealer.Seal(0, CommandIntent.Noop, 0, selector, counter, packet);
                return packet;
            }
            // Three noops, then the first again twice: accept must reach 3 and replay 2, through Prometheus.
            foreach (uint counter in new uint[] { 1, 2, 3 })
            {
                sender.SendTo(Seal(counter), destination);
                FailureClassifier.Require(prometheus.WaitFor(Accept, v => v >= counter, Bound) is not null,
                    $"noop counter {counter} did not show as accepted: {prometheus.Describe("ppn_commands_total")}");
            }
            sender.SendTo(Seal(1), destination);
            sender.SendTo(Seal(1), destination);
            FailureClassifier.Require(prometheus.WaitFor(Replay, v => v >= 2, Bound) is { } replays && replays == 2,
                $"the two replays did not show: {prometheus.Describe("ppn_commands_total")}");
            FailureClassifier.Require(prometheus.Scalar(Accept) == 3, $"a replay counted as accepted: {prometheus.Describe(Accept)}");
            FailureClassifier.Require(prometheus.WaitFor("ppn_commands_accepted_total{intent=\"noop\"}", v => v == 3, Bound) is not null,
                $"accepted noops: {prometheus.Describe("ppn_commands_accepted_total")}");
            FailureClassifier.Require(prometheus.Scalar("ppn_command_highest_accepted") == 3, $"highest accepted: {prometheus.Describe("ppn_command_highest_accepted")}");
            FailureClassifier.Require(prometheus.Scalar("ppn_command_replay_state_at_boot{state=\"ok\"}") == 1, $"{prometheus.Describe("ppn_command_replay_state_at_boot")}");
            var handshakeAge = prometheus.Scalar("ppn_mesh_latest_handshake_age_seconds");
            FailureClassifier.Require(handshakeAge is { } age && age < 180, $"ppn0's handshake age: {prometheus.Describe("ppn_mesh_latest_handshake_age_seconds")}");
            var series = prometheus.Query("{job=\"ppn\"}")?.Count ?? 0;
            ctx.Log(string.Create(CultureInfo.InvariantCulture,
                $"through Prometheus's API: accept 3, replay 2, noop 3, highest accepted 3, handshake age {handshakeAge:0} s; {series} series scraped"));
        }
        finally
        {
            stop.Cancel();
            try { beacons?.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
            authority.DisposeAsync().AsTask().GetAwaiter().GetResult();
            node.PowerOff();
        }
    }
}
