using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Ppn.Linux;
using Ppn.Linux.Interop;
using Ppn.Linux.Netlink;
using static Ppn.Linux.Netlink.NetlinkConstants;

namespace Ppn.Mesh.WireGuard;

/// <summary>
/// The kernel's generic netlink family "wireguard" (include/uapi/linux/wireguard.h): message encoding for
/// WG_CMD_GET_DEVICE / WG_CMD_SET_DEVICE and decoding of the (multi-part) get replies. Pure: no sockets here.
/// </summary>
public static class WireGuardNetlink
{
    public const string FamilyName = "wireguard";
    public const byte Version = 1;

    public const byte WG_CMD_GET_DEVICE = 0;
    public const byte WG_CMD_SET_DEVICE = 1;

    public const uint WGDEVICE_F_REPLACE_PEERS = 1;

    public const ushort WGDEVICE_A_IFINDEX = 1;
    public const ushort WGDEVICE_A_IFNAME = 2;
    public const ushort WGDEVICE_A_PRIVATE_KEY = 3;
    public const ushort WGDEVICE_A_PUBLIC_KEY = 4;
    public const ushort WGDEVICE_A_FLAGS = 5;
    public const ushort WGDEVICE_A_LISTEN_PORT = 6;
    public const ushort WGDEVICE_A_FWMARK = 7;
    public const ushort WGDEVICE_A_PEERS = 8;

    public const uint WGPEER_F_REMOVE_ME = 1;
    public const uint WGPEER_F_REPLACE_ALLOWEDIPS = 2;
    public const uint WGPEER_F_UPDATE_ONLY = 4;

    public const ushort WGPEER_A_PUBLIC_KEY = 1;
    public const ushort WGPEER_A_PRESHARED_KEY = 2;
    public const ushort WGPEER_A_FLAGS = 3;
    public const ushort WGPEER_A_ENDPOINT = 4;
    public const ushort WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
    public const ushort WGPEER_A_LAST_HANDSHAKE_TIME = 6;
    public const ushort WGPEER_A_RX_BYTES = 7;
    public const ushort WGPEER_A_TX_BYTES = 8;
    public const ushort WGPEER_A_ALLOWEDIPS = 9;
    public const ushort WGPEER_A_PROTOCOL_VERSION = 10;

    public const ushort WGALLOWEDIP_A_FAMILY = 1;
    public const ushort WGALLOWEDIP_A_IPADDR = 2;
    public const ushort WGALLOWEDIP_A_CIDR_MASK = 3;

    private const ushort AF_INET = LibC.AF_INET, AF_INET6 = LibC.AF_INET6;

    /// <summary>
    /// How much one WG_CMD_SET_DEVICE message carries before the rest goes into the next one. A netlink
    /// message must fit the kernel's socket buffer; wgctrl-go and wg(8) split large peer lists the same way.
    /// </summary>
    public const int MaxPeersPerMessage = 32;
    public const int MaxAllowedIPsPerMessage = 256;

    /// <summary>WG_CMD_GET_DEVICE: "May only be called via NLM_F_REQUEST | NLM_F_DUMP" (wireguard.h).</summary>
    public static NetlinkMessageWriter GetDeviceRequest(ushort familyId, string interfaceName)
    {
        var writer = GenericNetlink.NewRequest(familyId, WG_CMD_GET_DEVICE, Version, NLM_F_DUMP);
        writer.String(WGDEVICE_A_IFNAME, interfaceName);
        return writer;
    }

    /// <summary>
    /// WG_CMD_SET_DEVICE messages for <paramref name="change"/>, split so none carries more than
    /// <see cref="MaxPeersPerMessage"/> peers or <see cref="MaxAllowedIPsPerMessage"/> allowed IPs. Only the first
    /// message carries the private key, listen port, fwmark and REPLACE_PEERS; a peer continued in a later message
    /// is sent again with UPDATE_ONLY and without REPLACE_ALLOWEDIPS, so its earlier IPs stay.
    /// The caller disposes every writer (that zeroes the private key).
    /// </summary>
    public static List<NetlinkMessageWriter> SetDeviceRequests(ushort familyId, string interfaceName, DeviceChange change)
    {
        var messages = new List<NetlinkMessageWriter>();
        NetlinkMessageWriter NewMessage(bool first)
        {
            var w = GenericNetlink.NewRequest(familyId, WG_CMD_SET_DEVICE, Version, NLM_F_ACK);
            w.String(WGDEVICE_A_IFNAME, interfaceName);
            if (first)
            {
                if (change.PrivateKey is not null)
                {
                    w.Bytes(WGDEVICE_A_PRIVATE_KEY, change.PrivateKey.Bytes);
                }
                if (change.ListenPort is int port)
                {
                    w.U16(WGDEVICE_A_LISTEN_PORT, checked((ushort)port));
                }
                if (change.FirewallMark is uint mark)
                {
                    w.U32(WGDEVICE_A_FWMARK, mark);
                }
                if (change.ReplacePeers)
                {
                    w.U32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
                }
            }
            messages.Add(w);
            return w;
        }

        var current = NewMessage(first: true);
        int peersInMessage = 0, ipsInMessage = 0, peersStart = -1;
        ushort peerIndex = 0;
        foreach (var peer in change.Peers)
        {
            int ipOffset = 0;
            bool continuation = false;
            do
            {
                if (peersInMessage == MaxPeersPerMessage || (ipsInMessage == MaxAllowedIPsPerMessage && peer.AllowedIPs.Count - ipOffset > 0))
                {
                    if (peersStart >= 0)
                    {
                        current.EndNested(peersStart);
                    }
                    current = NewMessage(first: false);
                    peersInMessage = ipsInMessage = 0;
                    peersStart = -1;
                }
                if (peersStart < 0)
                {
                    peersStart = current.BeginNested(WGDEVICE_A_PEERS);
                }
                int take = Math.Min(peer.AllowedIPs.Count - ipOffset, MaxAllowedIPsPerMessage - ipsInMessage);
                WritePeer(current, peerIndex++, peer, ipOffset, take, continuation);
                peersInMessage++;
                ipsInMessage += take;
                ipOffset += take;
                continuation = true;
            }
            while (ipOffset < peer.AllowedIPs.Count);
        }
        if (peersStart >= 0)
        {
            current.EndNested(peersStart);
        }
        return messages;
    }

    private static void WritePeer(NetlinkMessageWriter w, ushort index, PeerChange peer, int ipOffset, int ipCount, bool continuation)
    {
        // Array elements are nested attributes whose type is their index; the kernel ignores the type (netlink.c).
        int start = w.BeginNested(index);
        w.Bytes(WGPEER_A_PUBLIC_KEY, peer.PublicKey.Bytes);
        uint flags = 0;
        if (peer.Remove) flags |= WGPEER_F_REMOVE_ME;
        if (continuation) flags |= WGPEER_F_UPDATE_ONLY;
        else
        {
            if (peer.UpdateOnly) flags |= WGPEER_F_UPDATE_ONLY;
            if (peer.ReplaceAllowedIPs) flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
        }
        if (flags != 0)
        {
            w.U32(WGPEER_A_FLAGS, flags);
        }
        if (!continuation && !peer.Remove)
        {
            if (peer.PresharedKey is WireGuardKey psk)
            {
                w.Bytes(WGPEER_A_PRESHARED_KEY, psk.Bytes);
            }
            if (peer.Endpoint is not null)
            {
                Span<byte> sockaddr = stackalloc byte[28];
                int length = SockaddrCodec.Write(peer.Endpoint, sockaddr);
                w.Bytes(WGPEER_A_ENDPOINT, sockaddr[..length]);
            }
            if (peer.PersistentKeepaliveSeconds is int keepalive)
            {
                w.U16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, checked((ushort)keepalive));
            }
        }
        if (ipCount > 0)
        {
            int ips = w.BeginNested(WGPEER_A_ALLOWEDIPS);
            for (int i = 0; i < ipCount; i++)
            {
                var prefix = peer.AllowedIPs[ipOffset + i];
                int ip = w.BeginNested((ushort)i);
                bool v4 = prefix.Family == AddressFamily.InterNetwork;
                w.U16(WGALLOWEDIP_A_FAMILY, v4 ? AF_INET : AF_INET6);
                w.Bytes(WGALLOWEDIP_A_IPADDR, prefix.Address.GetAddressBytes());
                w.U8(WGALLOWEDIP_A_CIDR_MASK, (byte)prefix.PrefixLength);
                w.EndNested(ip);
            }
            w.EndNested(ips);
        }
        w.EndNested(start);
    }

    /// <summary>
    /// Folds one WG_CMD_GET_DEVICE reply (genlmsghdr + attributes) into <paramref name="device"/>. A dump spreads a
    /// large device over several messages; a peer cut between two messages reappears first in the next one with
    /// the same public key and more allowed IPs, and is merged. False on a malformed message (never throws).
    /// </summary>
    public static bool TryMergeGetReply(ReadOnlySpan<byte> payload, WireGuardDeviceBuilder device)
    {
        if (payload.Length < GenericNetlink.HeaderSize)
        {
            return false;
        }
        var attrs = new AttributeReader(payload[GenericNetlink.HeaderSize..]);
        while (attrs.TryNext(out var type, out var value))
        {
            switch (type)
            {
                case WGDEVICE_A_IFINDEX when AttributeValue.TryU32(value, out var index):
                    device.InterfaceIndex = (int)index;
                    break;
                case WGDEVICE_A_IFNAME:
                    device.Name = AttributeValue.String(value);
                    break;
                case WGDEVICE_A_PRIVATE_KEY when value.Length == WireGuardKey.Length:
                    device.PrivateKey?.Dispose();
                    device.PrivateKey = value.IndexOfAnyExcept((byte)0) < 0 ? null : new WireGuardPrivateKey(value);
                    break;
                case WGDEVICE_A_PUBLIC_KEY when value.Length == WireGuardKey.Length:
                    device.PublicKey = value.IndexOfAnyExcept((byte)0) < 0 ? null : new WireGuardKey(value);
                    break;
                case WGDEVICE_A_LISTEN_PORT when AttributeValue.TryU16(value, out var port):
                    device.ListenPort = port;
                    break;
                case WGDEVICE_A_FWMARK when AttributeValue.TryU32(value, out var mark):
                    device.FirewallMark = mark;
                    break;
                case WGDEVICE_A_PEERS:
                    var peers = new AttributeReader(value);
                    while (peers.TryNext(out _, out var peerValue))
                    {
                        if (!TryReadPeer(peerValue, device))
                        {
                            return false;
                        }
                    }
                    if (peers.Malformed)
                    {
                        return false;
                    }
                    break;
            }
        }
        return !attrs.Malformed;
    }

    private static bool TryReadPeer(ReadOnlySpan<byte> value, WireGuardDeviceBuilder device)
    {
        var attrs = new AttributeReader(value);
        WireGuardPeer? peer = null;
        var pending = new List<IpPrefix>();
        while (attrs.TryNext(out var type, out var v))
        {
            switch (type)
            {
                case WGPEER_A_PUBLIC_KEY when v.Length == WireGuardKey.Length:
                    var key = new WireGuardKey(v);
                    var last = device.Peers.Count > 0 ? device.Peers[^1] : null;
                    peer = last is not null && last.PublicKey == key ? last : new WireGuardPeer { PublicKey = key };
                    if (!ReferenceEquals(peer, last))
                    {
                        device.Peers.Add(peer);
                    }
                    break;
                case WGPEER_A_PRESHARED_KEY when peer is not null:
                    peer.HasPresharedKey = v.IndexOfAnyExcept((byte)0) >= 0;
                    break;
                case WGPEER_A_ENDPOINT when peer is not null:
                    if (SockaddrCodec.TryRead(v, out var endpoint)) peer.Endpoint = endpoint;
                    break;
                case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL when peer is not null && AttributeValue.TryU16(v, out var keepalive):
                    peer.PersistentKeepaliveSeconds = keepalive;
                    break;
                case WGPEER_A_LAST_HANDSHAKE_TIME when peer is not null && v.Length >= 16:
                    long seconds = BinaryPrimitives.ReadInt64LittleEndian(v);
                    long nanos = BinaryPrimitives.ReadInt64LittleEndian(v[8..]);
                    peer.LastHandshake = seconds == 0 && nanos == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799)).AddTicks(Math.Clamp(nanos, 0, 999_999_999) / 100);
                    break;
                case WGPEER_A_RX_BYTES when peer is not null && AttributeValue.TryU64(v, out var rx):
                    peer.ReceiveBytes = rx;
                    break;
                case WGPEER_A_TX_BYTES when peer is not null && AttributeValue.TryU64(v, out var tx):
                    peer.TransmitBytes = tx;
                    break;
                case WGPEER_A_PROTOCOL_VERSION when peer is not null && AttributeValue.TryU32(v, out var version):
                    peer.ProtocolVersion = (int)version;
                    break;
                case WGPEER_A_ALLOWEDIPS:
                    var ips = new AttributeReader(v);
                    while (ips.TryNext(out _, out var ipValue))
                    {
                        if (!TryReadAllowedIP(ipValue, out var prefix))
                        {
                            return false;
                        }
                        pending.Add(prefix);
                    }
                    if (ips.Malformed)
                    {
                        return false;
                    }
                    break;
            }
        }
        if (peer is null)
        {
            return false; // every peer entry names its public key first (netlink.c get_peer)
        }
        peer.AllowedIPs.AddRange(pending);
        return !attrs.Malformed;
    }

    private static bool TryReadAllowedIP(ReadOnlySpan<byte> value, out IpPrefix prefix)
    {
        prefix = default;
        ushort family = 0;
        byte cidr = 0;
        ReadOnlySpan<byte> address = default;
        var attrs = new AttributeReader(value);
        while (attrs.TryNext(out var type, out var v))
        {
            switch (type)
            {
                case WGALLOWEDIP_A_FAMILY: AttributeValue.TryU16(v, out family); break;
                case WGALLOWEDIP_A_IPADDR: address = v; break;
                case WGALLOWEDIP_A_CIDR_MASK: AttributeValue.TryU8(v, out cidr); break;
            }
        }
        if (family == AF_INET && address.Length >= 4 && cidr <= 32)
        {
            prefix = new IpPrefix(new IPAddress(address[..4]), cidr);
            return true;
        }
        if (family == AF_INET6 && address.Length >= 16 && cidr <= 128)
        {
            prefix = new IpPrefix(new IPAddress(address[..16]), cidr);
            return true;
        }
        return false;
    }
}

/// <summary>Collects a device across the parts of a dump.</summary>
public sealed class WireGuardDeviceBuilder
{
    public string Name { get; set; } = "";
    public int InterfaceIndex { get; set; }
    public WireGuardPrivateKey? PrivateKey { get; set; }
    public WireGuardKey? PublicKey { get; set; }
    public int ListenPort { get; set; }
    public uint FirewallMark { get; set; }
    public List<WireGuardPeer> Peers { get; } = [];

    public WireGuardDevice Build()
    {
        var device = new WireGuardDevice
        {
            Name = Name,
            InterfaceIndex = InterfaceIndex,
            PrivateKey = PrivateKey,
            PublicKey = PublicKey ?? PrivateKey?.PublicKey(),
            ListenPort = ListenPort,
            FirewallMark = FirewallMark,
        };
        device.Peers.AddRange(Peers);
        return device;
    }
}
