using System.Net;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.Testing;
using Ppn.Mesh.WireGuard;
using Ppn.Rig.Net;

namespace Ppn.Rig.Mesh;

/// <summary>
/// The rig's own place on the mesh, inside its namespace: userspace WireGuard (Debian's wireguard-go, the host
/// has no module) configured by our own mesh code over the UAPI socket. As the hub (10.8.0.1, forwarding) emulated
/// nodes that joined through the rig's registrar reach it at the rig's link-local address and the rig adds each
/// as a peer (its key from the pairing registry); as the authority's peer (10.8.0.254) it reaches the nodes through
/// a hub VM. Either way the rig sends authority commands to nodes through the tunnel, as os-network-admin does.
/// </summary>
public sealed class RigHub : IDisposable
{
    public const int ListenPort = Ppn.Formats.PpnPorts.WireGuard;
    public static readonly IpPrefix HubAddress = IpPrefix.Parse("10.8.0.1/24");
    /// <summary>The rig as the control plane's peer on the mesh, behind a hub VM.</summary>
    public static readonly IpPrefix AuthorityAddress = IpPrefix.Parse("10.8.0.254/24");

    private readonly IpPrefix _address;
    private readonly bool _hub;
    private int _listenPort = ListenPort;

    private readonly NetworkNamespace _ns;
    private readonly WireGuardGoDaemon _daemon;
    private readonly WireGuardPrivateKey _key;
    private readonly List<MeshPeer> _peers = [];

    private RigHub(NetworkNamespace ns, string iface, WireGuardGoDaemon daemon, WireGuardPrivateKey key, IpPrefix address, bool hub)
    {
        _address = address;
        _hub = hub;
        _ns = ns;
        Interface = iface;
        _daemon = daemon;
        _key = key;
    }

    public string Interface { get; }
    public WireGuardKey PublicKey => _key.PublicKey();

    /// <summary>Starts wireguard-go in <paramref name="ns"/>, waits (bounded) for its UAPI socket, and brings the hub up with no peers.</summary>
    public static RigHub Start(NetworkNamespace ns, string? iface = null) => Start(ns, iface ?? OwnName("ppnhub"), HubAddress, hub: true);

    /// <summary>The rig as a spoke-like peer at <see cref="AuthorityAddress"/> whose only peer is the hub VM at <paramref name="hubEndpoint"/>.</summary>
    /// <param name="key">The rig peer's own key when the hub must list it before the rig peer starts (a relay whose
    /// key is known only once it has booted); a fresh one otherwise. The rig peer owns and disposes it.</param>
    public static RigHub StartBehindHub(NetworkNamespace ns, WireGuardKey hubKey, IPEndPoint hubEndpoint, string? iface = null, WireGuardPrivateKey? key = null)
    {
        var rig = Start(ns, iface ?? OwnName("ppnrig"), AuthorityAddress, hub: false, key);
        rig._peers.Add(new MeshPeer(hubKey, hubEndpoint, [IpPrefix.Parse("10.8.0.0/24")], 25));
        rig.Converge();
        return rig;
    }

    private static RigHub Start(NetworkNamespace ns, string iface, IpPrefix address, bool hub, WireGuardPrivateKey? key = null)
    {
        WireGuardGoDaemon daemon;
        try
        {
            daemon = WireGuardGoDaemon.Start(ns.Name, iface, TimeSpan.FromSeconds(15), () => InterfaceExists(ns, iface));
        }
        catch
        {
            key?.Dispose();
            throw;
        }
        var self = new RigHub(ns, iface, daemon, key ?? WireGuardPrivateKey.Generate(), address, hub);
        try
        {
            self.Converge();
            return self;
        }
        catch
        {
            self.Dispose();
            throw;
        }
    }

    private static bool InterfaceExists(NetworkNamespace ns, string iface)
    {
        try
        {
            return ns.InterfaceIndex(iface) > 0;
        }
        catch (Ppn.Linux.SyscallException)
        {
            return false;
        }
    }

    /// <summary>An interface name of this process: rigs of parallel test processes share /var/run/wireguard.</summary>
    private static string OwnName(string prefix) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefix}{Environment.ProcessId % 100000}");

    /// <summary>Adds a spoke (its WireGuard key = its genesis key) with its mesh address as the only allowed IP.</summary>
    public void AddSpoke(byte[] publicKey, IPAddress meshAddress)
    {
        _peers.Add(new MeshPeer(new WireGuardKey(publicKey), null, [new IpPrefix(meshAddress, 32)], null));
        Converge();
    }

    /// <summary>The hub's UDP port now (<see cref="ListenPort"/> until <see cref="MoveListenPort"/>).</summary>
    public int CurrentListenPort => _listenPort;

    /// <summary>The hub moves to another UDP port (a relay that moved): spokes still sending to the old one get no answer.</summary>
    public void MoveListenPort(int port)
    {
        _listenPort = port;
        Converge();
    }

    /// <summary>What `wg show` would print for the hub (its UAPI dump), for reports.</summary>
    public string Describe() => _ns.Run("wg", "show", Interface).StandardOutput;

    private void Converge() => _ns.RunInside(() =>
    {
        // Our MeshBringUp works on the calling thread's namespace: rtnetlink and the UAPI socket alike.
        using var config = new MeshConfig
        {
            PrivateKey = _key.Clone(),
            Address = _address,
            ListenPort = _hub ? _listenPort : null,
            Forwarding = _hub,
            Peers = _peers.ToList(),
        };
        var links = new RtnetlinkLinkConfigurator();
        return new MeshBringUp(new UapiWireGuard(), links).Up(Interface, config);
    }, TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        _daemon.Dispose();
        _key.Dispose();
    }
}
