using System.Net;
using System.Net.Sockets;
using Ppn.Linux.Netlink;
using Ppn.TestSupport;

namespace Ppn.Commands.Tests;

/// <summary>
/// The listener bound to its interface (the node: ppn0), in namespaces this test makes: a node with an underlay link
/// to a LAN neighbour and a mesh link (standing in for ppn0) to a mesh peer. Linux takes a packet for a local address
/// whatever interface it came in on (the weak host model), so the mesh address alone lets the neighbour in.
/// </summary>
public class ListenerInterfaceTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly IPAddress MeshAddress = IPAddress.Parse("10.8.0.5");
    private readonly CommandKeyring _node = TestKeys.NodeRing();
    private readonly CommandSealer _sealer = TestKeys.Sealer();
    private readonly CommandJournal _journal = new();
    private readonly NamespaceLab _lab = new("ppnc");
    private readonly string _nodeNs, _lanNs, _meshNs;
    private readonly string _underlay, _meshLink;

    public ListenerInterfaceTests()
    {
        _nodeNs = _lab.AddNamespace("node");
        _lanNs = _lab.AddNamespace("lan");
        _meshNs = _lab.AddNamespace("mesh");
        _underlay = $"pu{_lab.Suffix}";
        _meshLink = $"pm{_lab.Suffix}";
        _lab.AddVeth(_nodeNs, _underlay, _lanNs, $"{_underlay}b", noDad: true);
        HostProcess.Run("ip", "-n", _nodeNs, "addr", "add", "192.0.2.1/24", "dev", _underlay);
        HostProcess.Run("ip", "-n", _lanNs, "addr", "add", "192.0.2.2/24", "dev", $"{_underlay}b");
        // The neighbour routes the mesh prefix at the node's underlay address: all it needs to reach 10.8.0.5.
        HostProcess.Run("ip", "-n", _lanNs, "route", "add", "10.8.0.0/24", "via", "192.0.2.1");
        AddMeshLink();
    }

    private void AddMeshLink()
    {
        _lab.AddVeth(_nodeNs, _meshLink, _meshNs, $"{_meshLink}b", noDad: true);
        HostProcess.Run("ip", "-n", _nodeNs, "addr", "add", "10.8.0.5/24", "dev", _meshLink);
        HostProcess.Run("ip", "-n", _meshNs, "addr", "add", "10.8.0.9/24", "dev", $"{_meshLink}b");
    }

    public void Dispose()
    {
        _lab.Dispose();
        _node.Dispose();
        _sealer.Dispose();
    }

    private CommandListener StartInNode(string? device)
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        var verifier = new CommandVerifier(_node, new NodeAddressing(42, 7), store, 0);
        return NetworkNamespace.Run(NetworkNamespace.PathOf(_nodeNs), () => CommandListener.Start(new CommandListenerOptions
        {
            BindAddress = MeshAddress,
            Port = 0,
            Interface = device,
        }, verifier, new CommandDispatcher(new RecordingEffects(), _journal), _journal));
    }

    private Socket ConnectedFrom(string ns, IPEndPoint to) => NetworkNamespace.Run(NetworkNamespace.PathOf(ns), () =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Deadline.TotalMilliseconds };
        socket.Connect(to);
        return socket;
    });

    private byte[] Seal(uint counter)
    {
        var b = new byte[16];
        _sealer.Seal(0, CommandIntent.Noop, 0, TargetSelector.Node(42), counter, b);
        return b;
    }

    private static void WaitFor(Func<bool> condition, string what) =>
        Assert.True(Wait.Until(condition, Deadline), $"not within {Deadline.TotalSeconds} s: {what}");

    [NamespaceFact]
    public void Bound_to_its_interface_it_hears_the_mesh_peer_and_never_an_underlay_neighbour_routing_to_the_mesh_address()
    {
        using var bound = StartInNode(_meshLink);
        Assert.NotEqual(0, bound.InterfaceIndex);
        using (var neighbour = ConnectedFrom(_lanNs, bound.LocalEndPoint))
        {
            neighbour.Send(Seal(1));
            // No socket took it: the node's kernel answers port unreachable, which the connected sender reads as refused.
            var refused = Assert.Throws<SocketException>(() => neighbour.Receive(new byte[16]));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        using (var peer = ConnectedFrom(_meshNs, bound.LocalEndPoint))
        {
            peer.Send(Seal(2));
            WaitFor(() => bound.DatagramsReceived == 1, "the mesh peer's datagram is received");
        }
        WaitFor(() => bound.Counters[CommandVerdict.Accepted] == 1, "the mesh peer's command is accepted");
        Assert.Equal(1, bound.DatagramsReceived);
    }

    [NamespaceFact]
    public void Without_an_interface_the_mesh_address_alone_takes_the_underlay_neighbours_datagram()
    {
        // What the binding prevents: the weak host model at work.
        using var open = StartInNode(device: null);
        Assert.Equal(0, open.InterfaceIndex);
        using var neighbour = ConnectedFrom(_lanNs, open.LocalEndPoint);
        neighbour.Send(Seal(1));
        WaitFor(() => open.DatagramsReceived == 1, "the neighbour's datagram is received");
    }

    [NamespaceFact]
    public void A_replaced_interface_is_noticed_so_the_listener_can_be_started_again()
    {
        using var bound = StartInNode(_meshLink);
        bool Replaced() => NetworkNamespace.Run(NetworkNamespace.PathOf(_nodeNs), () => bound.InterfaceReplaced);
        Assert.False(Replaced());
        HostProcess.Run("ip", "-n", _nodeNs, "link", "del", _meshLink);
        Assert.True(Replaced());
        AddMeshLink(); // the same name again, a new index
        Assert.True(Replaced());
    }

    [NamespaceFact]
    public void An_interface_that_does_not_exist_is_a_clear_error_not_a_listener_on_every_interface()
    {
        var store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        var verifier = new CommandVerifier(_node, new NodeAddressing(42, 7), store, 0);
        var error = Assert.Throws<Ppn.Linux.SyscallException>(() => NetworkNamespace.Run(NetworkNamespace.PathOf(_nodeNs), () =>
            CommandListener.Start(new CommandListenerOptions { BindAddress = MeshAddress, Port = 0, Interface = "ppnc-none" },
                verifier, new CommandDispatcher(new RecordingEffects(), _journal), _journal)));
        Assert.Contains("ppnc-none", error.Message);
        Assert.Contains("the mesh interface must exist", error.Message);
    }
}
