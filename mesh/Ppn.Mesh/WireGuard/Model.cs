using System.Net;

namespace Ppn.Mesh.WireGuard;

/// <summary>A WireGuard device as read back (what `wg show` shows).</summary>
public sealed class WireGuardDevice : IDisposable
{
    public required string Name { get; init; }
    public int InterfaceIndex { get; init; }
    /// <summary>Null when the device has no key yet or the backend did not disclose it.</summary>
    public WireGuardPrivateKey? PrivateKey { get; set; }
    public WireGuardKey? PublicKey { get; set; }
    public int ListenPort { get; set; }
    public uint FirewallMark { get; set; }
    public List<WireGuardPeer> Peers { get; } = [];

    public void Dispose() => PrivateKey?.Dispose();
}

public sealed class WireGuardPeer
{
    public required WireGuardKey PublicKey { get; init; }
    public bool HasPresharedKey { get; set; }
    public IPEndPoint? Endpoint { get; set; }
    public int PersistentKeepaliveSeconds { get; set; }
    /// <summary>Null when the peer never completed a handshake.</summary>
    public DateTimeOffset? LastHandshake { get; set; }
    public ulong ReceiveBytes { get; set; }
    public ulong TransmitBytes { get; set; }
    public int ProtocolVersion { get; set; }
    public List<IpPrefix> AllowedIPs { get; } = [];
}

/// <summary>
/// A change to a device, with WireGuard's set semantics (wireguard.h WG_CMD_SET_DEVICE, the UAPI set=1):
/// null fields are left alone; peers not named are untouched unless <see cref="ReplacePeers"/>.
/// </summary>
public sealed class DeviceChange : IDisposable
{
    public WireGuardPrivateKey? PrivateKey { get; set; }
    public int? ListenPort { get; set; }
    public uint? FirewallMark { get; set; }
    public bool ReplacePeers { get; set; }
    public List<PeerChange> Peers { get; } = [];

    public bool IsEmpty => PrivateKey is null && ListenPort is null && FirewallMark is null && !ReplacePeers && Peers.Count == 0;

    public void Dispose() => PrivateKey?.Dispose();
}

public sealed class PeerChange
{
    public required WireGuardKey PublicKey { get; init; }
    public bool Remove { get; set; }
    public bool UpdateOnly { get; set; }
    /// <summary>All zero bytes removes the preshared key.</summary>
    public WireGuardKey? PresharedKey { get; set; }
    public IPEndPoint? Endpoint { get; set; }
    public int? PersistentKeepaliveSeconds { get; set; }
    public bool ReplaceAllowedIPs { get; set; }
    public List<IpPrefix> AllowedIPs { get; } = [];
}

/// <summary>Configures WireGuard devices: the kernel's generic netlink family, or a userspace implementation's UAPI socket.</summary>
public interface IWireGuard
{
    /// <summary>"kernel" or "userspace".</summary>
    string Backend { get; }

    /// <summary>Makes sure the interface exists (kernel: creates the link; userspace: requires the daemon's socket). True when created now.</summary>
    bool EnsureInterface(string name);

    /// <summary>The device's state, or null when there is no such WireGuard interface.</summary>
    WireGuardDevice? Get(string name);

    void Apply(string name, DeviceChange change);
}
