using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Ppn.Linux;
using Ppn.Linux.Interop;
using Ppn.Linux.Netlink;
using static Ppn.Linux.Netlink.NetlinkConstants;

namespace Ppn.Mesh.Links;

/// <summary>rtnetlink message layouts (linux/rtnetlink.h, if_link.h, if_addr.h). Pure encoders and parsers.</summary>
public static class Rtnetlink
{
    public const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18;
    public const ushort RTM_NEWADDR = 20, RTM_DELADDR = 21, RTM_GETADDR = 22;
    public const ushort RTM_NEWROUTE = 24, RTM_DELROUTE = 25, RTM_GETROUTE = 26;

    public const ushort IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_LINKINFO = 18, IFLA_INFO_KIND = 1;
    public const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;
    public const ushort RTA_DST = 1, RTA_OIF = 4, RTA_TABLE = 15;

    public const uint IFF_UP = 1;
    public const byte RT_TABLE_MAIN = 254;
    public const byte RTPROT_BOOT = 3, RTPROT_STATIC = 4, RTPROT_KERNEL = 2;
    public const byte RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253;
    public const byte RTN_UNICAST = 1;
    public const byte AF_UNSPEC = 0, AF_INET = LibC.AF_INET, AF_INET6 = LibC.AF_INET6;

    public const int IfInfoSize = 16, IfAddrSize = 8, RtMsgSize = 12;

    public static byte Family(IpPrefix prefix) => prefix.Family == AddressFamily.InterNetwork ? AF_INET : AF_INET6;

    public static NetlinkMessageWriter LinkRequest(ushort type, ushort flags, int index = 0, uint ifiFlags = 0, uint ifiChange = 0)
    {
        var w = new NetlinkMessageWriter(type, (ushort)(NLM_F_REQUEST | flags));
        var ifi = w.Reserve(IfInfoSize);
        BinaryPrimitives.WriteInt32LittleEndian(ifi[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(ifi[8..], ifiFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(ifi[12..], ifiChange);
        return w;
    }

    /// <summary>`ip link add NAME type wireguard`.</summary>
    public static NetlinkMessageWriter NewWireGuardLink(string name)
    {
        var w = LinkRequest(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        w.String(IFLA_IFNAME, name);
        int info = w.BeginNested(IFLA_LINKINFO);
        w.String(IFLA_INFO_KIND, "wireguard");
        w.EndNested(info);
        return w;
    }

    public static NetlinkMessageWriter AddressRequest(ushort type, ushort flags, int index, IpPrefix address)
    {
        var w = new NetlinkMessageWriter(type, (ushort)(NLM_F_REQUEST | flags));
        var ifa = w.Reserve(IfAddrSize);
        ifa[0] = Family(address);
        ifa[1] = (byte)address.PrefixLength;
        ifa[3] = RT_SCOPE_UNIVERSE;
        BinaryPrimitives.WriteUInt32LittleEndian(ifa[4..], (uint)index);
        var bytes = address.Address.GetAddressBytes();
        // Like `ip addr add`: local and peer address equal (a point-to-point tun would otherwise take IFA_ADDRESS as the peer).
        w.Bytes(IFA_LOCAL, bytes);
        w.Bytes(IFA_ADDRESS, bytes);
        return w;
    }

    public static NetlinkMessageWriter RouteRequest(ushort type, ushort flags, int index, IpPrefix destination)
    {
        var network = destination.Network();
        var w = new NetlinkMessageWriter(type, (ushort)(NLM_F_REQUEST | flags));
        var rtm = w.Reserve(RtMsgSize);
        rtm[0] = Family(network);
        rtm[1] = (byte)network.PrefixLength;
        rtm[4] = RT_TABLE_MAIN;
        rtm[5] = RTPROT_STATIC;
        rtm[6] = RT_SCOPE_LINK;
        rtm[7] = RTN_UNICAST;
        w.Bytes(RTA_DST, network.Address.GetAddressBytes());
        w.U32(RTA_OIF, (uint)index);
        return w;
    }

    public static bool TryParseLink(ReadOnlySpan<byte> payload, out LinkState? link)
    {
        link = null;
        if (payload.Length < IfInfoSize) return false;
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        string name = "";
        int mtu = 0;
        string? kind = null;
        var attrs = new AttributeReader(payload[IfInfoSize..]);
        while (attrs.TryNext(out var type, out var value))
        {
            switch (type)
            {
                case IFLA_IFNAME: name = AttributeValue.String(value); break;
                case IFLA_MTU when AttributeValue.TryU32(value, out var m): mtu = (int)m; break;
                case IFLA_LINKINFO:
                    var info = new AttributeReader(value);
                    while (info.TryNext(out var t, out var v))
                    {
                        if (t == IFLA_INFO_KIND) kind = AttributeValue.String(v);
                    }
                    break;
            }
        }
        link = new LinkState(index, name, mtu, (flags & IFF_UP) != 0, kind);
        return !attrs.Malformed;
    }

    public static bool TryParseAddress(ReadOnlySpan<byte> payload, out int index, out IpPrefix address)
    {
        index = 0;
        address = default;
        if (payload.Length < IfAddrSize) return false;
        byte family = payload[0];
        byte prefix = payload[1];
        index = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        ReadOnlySpan<byte> local = default, addr = default;
        var attrs = new AttributeReader(payload[IfAddrSize..]);
        while (attrs.TryNext(out var type, out var value))
        {
            if (type == IFA_LOCAL) local = value;
            else if (type == IFA_ADDRESS) addr = value;
        }
        var chosen = local.IsEmpty ? addr : local;
        int expected = family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
        if (expected < 0 || chosen.Length != expected || prefix > expected * 8) return false;
        address = new IpPrefix(new IPAddress(chosen), prefix);
        return true;
    }

    public static bool TryParseRoute(ReadOnlySpan<byte> payload, out RouteEntry? route, out uint table)
    {
        route = null;
        table = 0;
        if (payload.Length < RtMsgSize) return false;
        byte family = payload[0], dstLength = payload[1];
        table = payload[4];
        byte protocol = payload[5];
        int oif = 0;
        ReadOnlySpan<byte> dst = default;
        var attrs = new AttributeReader(payload[RtMsgSize..]);
        while (attrs.TryNext(out var type, out var value))
        {
            switch (type)
            {
                case RTA_DST: dst = value; break;
                case RTA_OIF when AttributeValue.TryU32(value, out var o): oif = (int)o; break;
                case RTA_TABLE when AttributeValue.TryU32(value, out var t): table = t; break;
            }
        }
        int expected = family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
        if (expected < 0 || dstLength > expected * 8) return false;
        var address = dst.Length == expected ? new IPAddress(dst) : (expected == 4 ? IPAddress.Any : IPAddress.IPv6Any);
        route = new RouteEntry(new IpPrefix(address, dstLength), oif, protocol);
        return true;
    }
}

/// <summary>
/// <see cref="ILinkConfigurator"/> over NETLINK_ROUTE. The socket is opened per call in the calling thread's
/// network namespace (so a thread setns'd into a test namespace configures that namespace).
/// </summary>
public sealed class RtnetlinkLinkConfigurator : ILinkConfigurator
{
    private const string NeedsNetAdmin = "changing links, addresses and routes needs CAP_NET_ADMIN: run as root";
    private readonly string _procSys;

    public RtnetlinkLinkConfigurator(string procSysRoot = "/proc/sys") => _procSys = procSysRoot;

    private static string? Advice(int errno) => (Errno)errno switch
    {
        Errno.EPERM or Errno.EACCES => NeedsNetAdmin,
        Errno.EOPNOTSUPP => KernelWireGuardAdvice,
        _ => null,
    };

    private const string KernelWireGuardAdvice = "the kernel does not know link kind \"wireguard\": load the wireguard module or use the userspace backend (wireguard-go)";

    private static NetlinkSocket Open() => new(NetlinkSocketConstants.NETLINK_ROUTE);

    public LinkState? Get(string name)
    {
        using var socket = Open();
        using var request = Rtnetlink.LinkRequest(Rtnetlink.RTM_GETLINK, NLM_F_ACK);
        request.String(Rtnetlink.IFLA_IFNAME, name);
        LinkState? found = null;
        try
        {
            socket.Request(request, "rtnetlink RTM_GETLINK", name, (in NetlinkHeader h, ReadOnlySpan<byte> payload) =>
            {
                if (h.Type == Rtnetlink.RTM_NEWLINK && Rtnetlink.TryParseLink(payload, out var link)) found = link;
            }, Advice);
        }
        catch (NetlinkException e) when (e.Is(Errno.ENODEV))
        {
            return null;
        }
        return found;
    }

    public void CreateWireGuard(string name)
    {
        using var socket = Open();
        using var request = Rtnetlink.NewWireGuardLink(name);
        socket.Request(request, "rtnetlink RTM_NEWLINK (kind wireguard)", name, null,
            errno => errno == (int)Errno.EOPNOTSUPP ? KernelWireGuardAdvice : Advice(errno));
    }

    public void Delete(string name)
    {
        var link = Get(name);
        if (link is null) return;
        using var socket = Open();
        using var request = Rtnetlink.LinkRequest(Rtnetlink.RTM_DELLINK, NLM_F_ACK, link.Index);
        socket.Request(request, "rtnetlink RTM_DELLINK", name, null, Advice);
    }

    public void SetMtu(int index, int mtu)
    {
        using var socket = Open();
        using var request = Rtnetlink.LinkRequest(Rtnetlink.RTM_NEWLINK, NLM_F_ACK, index);
        request.U32(Rtnetlink.IFLA_MTU, (uint)mtu);
        socket.Request(request, "rtnetlink RTM_NEWLINK (mtu)", $"ifindex {index}", null, Advice);
    }

    public void SetUp(int index, bool up)
    {
        using var socket = Open();
        using var request = Rtnetlink.LinkRequest(Rtnetlink.RTM_NEWLINK, NLM_F_ACK, index, up ? Rtnetlink.IFF_UP : 0, Rtnetlink.IFF_UP);
        socket.Request(request, "rtnetlink RTM_NEWLINK (up)", $"ifindex {index}", null, Advice);
    }

    public IReadOnlyList<IpPrefix> Addresses(int index)
    {
        using var socket = Open();
        using var request = new NetlinkMessageWriter(Rtnetlink.RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
        request.Reserve(Rtnetlink.IfAddrSize);
        var result = new List<IpPrefix>();
        socket.Request(request, "rtnetlink RTM_GETADDR", $"ifindex {index}", (in NetlinkHeader h, ReadOnlySpan<byte> payload) =>
        {
            if (h.Type == Rtnetlink.RTM_NEWADDR && Rtnetlink.TryParseAddress(payload, out var i, out var a) && i == index && !a.Address.IsIPv6LinkLocal)
            {
                result.Add(a);
            }
        }, Advice);
        return result;
    }

    public void AddAddress(int index, IpPrefix address)
    {
        using var socket = Open();
        using var request = Rtnetlink.AddressRequest(Rtnetlink.RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, address);
        socket.Request(request, "rtnetlink RTM_NEWADDR", address.ToString(), null, Advice);
    }

    public void DeleteAddress(int index, IpPrefix address)
    {
        using var socket = Open();
        using var request = Rtnetlink.AddressRequest(Rtnetlink.RTM_DELADDR, NLM_F_ACK, index, address);
        socket.Request(request, "rtnetlink RTM_DELADDR", address.ToString(), null, Advice);
    }

    public IReadOnlyList<RouteEntry> Routes(int index)
    {
        var result = new List<RouteEntry>();
        foreach (var family in new[] { Rtnetlink.AF_INET, Rtnetlink.AF_INET6 })
        {
            using var socket = Open();
            using var request = new NetlinkMessageWriter(Rtnetlink.RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
            request.Reserve(Rtnetlink.RtMsgSize)[0] = family;
            socket.Request(request, "rtnetlink RTM_GETROUTE", $"ifindex {index}", (in NetlinkHeader h, ReadOnlySpan<byte> payload) =>
            {
                if (h.Type == Rtnetlink.RTM_NEWROUTE && Rtnetlink.TryParseRoute(payload, out var route, out var table)
                    && table == Rtnetlink.RT_TABLE_MAIN && route!.OutputInterface == index)
                {
                    result.Add(route);
                }
            }, Advice);
        }
        return result;
    }

    public void AddRoute(int index, IpPrefix destination)
    {
        using var socket = Open();
        using var request = Rtnetlink.RouteRequest(Rtnetlink.RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, index, destination);
        socket.Request(request, "rtnetlink RTM_NEWROUTE", destination.ToString(), null, Advice);
    }

    public void DeleteRoute(int index, IpPrefix destination)
    {
        using var socket = Open();
        using var request = Rtnetlink.RouteRequest(Rtnetlink.RTM_DELROUTE, NLM_F_ACK, index, destination);
        socket.Request(request, "rtnetlink RTM_DELROUTE", destination.ToString(), null, Advice);
    }

    private string ForwardingPath(string name) => Path.Combine(_procSys, "net", "ipv4", "conf", name, "forwarding");

    public bool GetForwarding(string name)
    {
        var path = ForwardingPath(name);
        using var fd = SafeFd.Open(path, OpenFlags.O_RDONLY);
        Span<byte> buffer = stackalloc byte[8];
        int n = FileDescriptorIo.ReadAll(fd, buffer, path);
        return n > 0 && buffer[0] == (byte)'1';
    }

    public void SetForwarding(string name, bool enabled)
    {
        var path = ForwardingPath(name);
        using var fd = SafeFd.Open(path, OpenFlags.O_WRONLY, advice: "setting forwarding needs root");
        FileDescriptorIo.WriteOnce(fd, enabled ? "1\n"u8 : "0\n"u8, path);
    }
}
