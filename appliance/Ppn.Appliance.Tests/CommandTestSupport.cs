using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ppn.Appliance.Commands;
using Ppn.Commands;
using Ppn.Genesis.Enrolment;

using static Ppn.Appliance.Tests.CommandTestKeys;

namespace Ppn.Appliance.Tests;

/// <summary>
/// The fixed keys the command-service tests share (authority X25519 pair, node X25519 pair), as in
/// docs/protocol/vectors/commands.json: one copy for the command service, telemetry and lifecycle tests.
/// </summary>
internal static class CommandTestKeys
{
    public static readonly byte[] AuthorityPrivate = Convert.FromHexString("a8abababababababababababababababababababababababababababababab6b");
    public static readonly byte[] AuthorityPublic = Convert.FromHexString("e3712d851a0e5d79b831c5e34ab22b41a198171de209b8b8faca23a11c624859");
    public static readonly byte[] NodePrivate = Convert.FromHexString("c8cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd4d");
    public static readonly byte[] NodePublic = Convert.FromHexString("b5bea823d9c9ff576091c54b7c596c0ae296884f0e150290e88455d7fba6126f");
}

/// <summary>
/// What the command service, telemetry and lifecycle tests do alike: a grant for the node of <see cref="CommandTestKeys"/>,
/// packets sealed by its authority, one datagram to a running service, and a bounded wait for what it did.
/// </summary>
internal static class CommandTraffic
{
    public static EnrolmentGrant Grant(string address = "10.8.0.2", ulong nodeId = 42, uint epoch = 0) =>
        new(GrantStatus.Granted, nodeId, IPAddress.Parse(address), new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51820),
            new byte[32], epoch, NodePublic, 0, new byte[64]);

    /// <summary>A packet as the authority seals it for node 42 unless <paramref name="target"/> says otherwise.</summary>
    public static byte[] Seal(CommandIntent intent, uint counter, byte epoch = 0, byte argument = 0, TargetSelector? target = null)
    {
        var packet = new byte[CommandPacket.Size];
        using var sealer = CommandSealer.ForNode(AuthorityPrivate, NodePublic);
        sealer.Seal(epoch, intent, argument, target ?? TargetSelector.Node(42), counter, packet);
        return packet;
    }

    public static void Send(CommandService service, byte[] packet)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.SendTo(packet, service.LocalEndPoint);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or 20 s have passed; no fixed sleeps.</summary>
    public static bool Until(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) return false;
            spin.SpinOnce(sleep1Threshold: 20);
        }
        return true;
    }
}
