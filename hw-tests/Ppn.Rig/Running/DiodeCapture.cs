using Ppn.Genesis.Holding;
using System.Diagnostics;
using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Running;

/// <summary>
/// The node is a diode for commands: it receives signed commands on UDP 8090 and never sends to that port.
/// dumpcap captures the rig's link (the tap, inside the rig's namespace) for a whole run — power-on, genesis,
/// the holding banner read by the rig, power-off — and tshark then reads the file: no frame from the node's MAC
/// to UDP port 8090, while frames from that MAC were seen (so an empty capture cannot pass).
/// </summary>
public static class DiodeCapture
{
    public const int CommandPort = Ppn.Commands.CommandListenerOptions.DefaultPort;

    public static void Run(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("diode");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource());
        var pcap = Path.Combine(rig.WorkDirectory, "link.pcapng");

        using (var capture = PacketCapture.Start(rig.Namespace, rig.Link, pcap))
        {
            node.PowerOn();
            var key = node.AwaitGenesisKey();
            ctx.Log($"node-a holding as {key}; capturing on {rig.Link} in {rig.Namespace.Name} into {pcap}");
            // Frames reach the file in the order the link carried them: once the rig's own end-of-run marker is
            // in the file, so is everything the node sent before it.
            SendMarker(rig.Namespace, rig.Link);
            capture.WaitFor($"udp.dstport == {MarkerPort} && data.data contains \"{Marker}\"", TimeSpan.FromSeconds(20));
            node.PowerOff();
            capture.Stop();
        }

        string mac = MacAddress.Format(node.Mac);
        int fromNode = Count(pcap, $"eth.src == {mac}");
        int banner = Count(pcap, $"eth.src == {mac} && tcp.srcport == {HoldingOptions.DefaultPort}");
        int toCommandPort = Count(pcap, $"eth.src == {mac} && udp.dstport == {CommandPort}");
        ctx.Log($"capture: {fromNode} frames from the node, {banner} of them from its holding port, {toCommandPort} to UDP {CommandPort}");
        if (fromNode == 0 || banner == 0)
        {
            throw new RigInfrastructureException(RigFault.CaptureFailed,
                $"the capture saw {fromNode} frames from {mac} ({banner} from port {HoldingOptions.DefaultPort}): it did not see the run, so it proves nothing");
        }
        FailureClassifier.Require(toCommandPort == 0,
            $"the node sent {toCommandPort} packet(s) to UDP {CommandPort}: " + Frames(pcap, $"eth.src == {mac} && udp.dstport == {CommandPort}"));
    }

    private const int MarkerPort = 9; // discard (RFC 863)
    private const string Marker = "ppn-rig-end-of-run";

    private static void SendMarker(NetworkNamespace ns, string iface)
    {
        int index = ns.InterfaceIndex(iface);
        ns.RunInside(() =>
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6,
                System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            var allNodes = System.Net.IPAddress.Parse("ff02::1");
            allNodes.ScopeId = index;
            return socket.SendTo(System.Text.Encoding.ASCII.GetBytes(Marker), new System.Net.IPEndPoint(allNodes, MarkerPort));
        }, TimeSpan.FromSeconds(10));
    }

    private static int Count(string pcap, string filter) => PacketCapture.Count(pcap, filter);

    private static string Frames(string pcap, string filter) => PacketCapture.Frames(pcap, filter);
}
