using System.Net;
using Ppn.Linux.Netlink;
using Ppn.Mesh.WireGuard;
using static Ppn.Mesh.WireGuard.WireGuardNetlink;

namespace Ppn.Mesh.Tests;

/// <summary>Golden bytes derived by hand from include/uapi/linux/wireguard.h, genetlink.h and netlink.h.</summary>
public class NetlinkCodecTests
{
    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
    private static string Golden(params string[] parts) => string.Concat(parts).Replace(" ", "");

    [Fact]
    public void Family_lookup_request_matches_the_genetlink_layout()
    {
        using var request = GenericNetlink.GetFamilyRequest("wireguard");
        Assert.Equal(Golden(
            "24000000 1000 0500 00000000 00000000", // nlmsghdr: len 36, GENL_ID_CTRL, REQUEST|ACK
            "03 01 0000",                           // genlmsghdr: CTRL_CMD_GETFAMILY, version 1
            "0e00 0200 77697265677561726400 0000"), // CTRL_ATTR_FAMILY_NAME "wireguard\0" + pad
            Hex(request.Message));
    }

    [Fact]
    public void Get_device_request_is_a_dump_naming_the_interface()
    {
        using var request = GetDeviceRequest(0x1a, "wg0");
        Assert.Equal(Golden(
            "1c000000 1a00 0103 00000000 00000000", // len 28, family 0x1a, REQUEST|DUMP (0x301)
            "00 01 0000",                           // WG_CMD_GET_DEVICE, version 1
            "0800 0200 77673000"),                  // WGDEVICE_A_IFNAME "wg0\0"
            Hex(request.Message));
    }

    [Fact]
    public void Set_device_request_nests_peers_and_allowed_ips_as_the_uapi_header_describes()
    {
        using var change = new DeviceChange { PrivateKey = new WireGuardPrivateKey(Enumerable.Repeat((byte)0x11, 32).ToArray()), ListenPort = 51820 };
        var peer = new PeerChange
        {
            PublicKey = new WireGuardKey(Enumerable.Repeat((byte)0x22, 32).ToArray()),
            Endpoint = IPEndPoint.Parse("192.168.77.1:51820"),
            PersistentKeepaliveSeconds = 25,
            ReplaceAllowedIPs = true,
        };
        peer.AllowedIPs.Add(IpPrefix.Parse("10.8.0.0/24"));
        change.Peers.Add(peer);

        var messages = SetDeviceRequests(0x1a, "wg0", change);
        Assert.Single(messages);
        Assert.Equal(Golden(
            "b8000000 1a00 0500 00000000 00000000",     // len 184, REQUEST|ACK
            "01 01 0000",                               // WG_CMD_SET_DEVICE v1
            "0800 0200 77673000",                       // IFNAME "wg0"
            "2400 0300", string.Concat(Enumerable.Repeat("11", 32)), // PRIVATE_KEY
            "0600 0600 6cca 0000",                      // LISTEN_PORT 51820 (host order) + pad
            "7000 0880",                                // PEERS, NLA_F_NESTED
            "6c00 0080",                                //  peer 0, nested
            "2400 0100", string.Concat(Enumerable.Repeat("22", 32)), // PUBLIC_KEY
            "0800 0300 02000000",                       //  FLAGS REPLACE_ALLOWEDIPS
            "1400 0400 0200 ca6c c0a84d01 0000000000000000", // ENDPOINT sockaddr_in, port big-endian
            "0600 0500 1900 0000",                      //  PERSISTENT_KEEPALIVE 25
            "2000 0980",                                //  ALLOWEDIPS nested
            "1c00 0080",                                //   allowed ip 0
            "0600 0100 0200 0000",                      //    FAMILY AF_INET
            "0800 0200 0a080000",                       //    IPADDR 10.8.0.0
            "0500 0300 18 000000"),                     //    CIDR_MASK 24
            Hex(messages[0].Message));
        foreach (var m in messages) m.Dispose();
    }

    [Fact]
    public void Large_peer_lists_are_split_and_only_the_first_message_replaces_peers()
    {
        using var change = new DeviceChange { ReplacePeers = true };
        for (int i = 0; i < 70; i++)
        {
            var key = new byte[32];
            key[0] = (byte)i;
            var peer = new PeerChange { PublicKey = new WireGuardKey(key), ReplaceAllowedIPs = true };
            peer.AllowedIPs.Add(new IpPrefix(new IPAddress([10, 8, 0, (byte)i]), 32));
            change.Peers.Add(peer);
        }
        var messages = SetDeviceRequests(0x1a, "wg0", change);
        try
        {
            Assert.Equal(3, messages.Count); // 32 + 32 + 6 peers
            Assert.True(HasReplacePeers(messages[0]));
            Assert.False(HasReplacePeers(messages[1]));
            Assert.Equal(70, messages.Sum(m => CountPeers(m)));
        }
        finally
        {
            foreach (var m in messages) m.Dispose();
        }
    }

    [Fact]
    public void A_peer_with_more_allowed_ips_than_one_message_holds_continues_as_update_only()
    {
        using var change = new DeviceChange();
        var peer = new PeerChange { PublicKey = new WireGuardKey(new byte[32]), ReplaceAllowedIPs = true };
        for (int i = 0; i < 600; i++) peer.AllowedIPs.Add(new IpPrefix(new IPAddress([10, (byte)(i / 256), (byte)i, 0]), 24));
        change.Peers.Add(peer);
        var messages = SetDeviceRequests(0x1a, "wg0", change);
        try
        {
            Assert.Equal(3, messages.Count); // 256 + 256 + 88
            var flags = messages.Select(FirstPeerFlags).ToList();
            Assert.Equal(WGPEER_F_REPLACE_ALLOWEDIPS, flags[0]);
            Assert.Equal(WGPEER_F_UPDATE_ONLY, flags[1]);
            Assert.Equal(WGPEER_F_UPDATE_ONLY, flags[2]);
        }
        finally
        {
            foreach (var m in messages) m.Dispose();
        }
    }

    [Fact]
    public void A_dump_reply_split_across_messages_is_merged_into_one_peer()
    {
        var peerKey = Enumerable.Repeat((byte)0x33, 32).ToArray();
        var privateKey = Enumerable.Repeat((byte)0x44, 32).ToArray();
        privateKey[0] &= 248; privateKey[31] = (byte)((privateKey[31] & 127) | 64);
        // What the kernel sends for a device whose peer's allowed IPs did not fit one skb (netlink.c get_peer).
        using var first = Reply(w =>
        {
            w.U32(WGDEVICE_A_IFINDEX, 7);
            w.String(WGDEVICE_A_IFNAME, "wg0");
            w.Bytes(WGDEVICE_A_PRIVATE_KEY, privateKey);
            w.U16(WGDEVICE_A_LISTEN_PORT, 51820);
            int peers = w.BeginNested(WGDEVICE_A_PEERS);
            int p = w.BeginNested(0);
            w.Bytes(WGPEER_A_PUBLIC_KEY, peerKey);
            Span<byte> sa = stackalloc byte[16];
            Ppn.Linux.SockaddrCodec.Write(IPEndPoint.Parse("192.168.77.2:40000"), sa);
            w.Bytes(WGPEER_A_ENDPOINT, sa);
            Span<byte> ts = stackalloc byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(ts, 1_700_000_000);
            w.Bytes(WGPEER_A_LAST_HANDSHAKE_TIME, ts);
            w.U64(WGPEER_A_RX_BYTES, 1234);
            w.U64(WGPEER_A_TX_BYTES, 5678);
            w.U16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
            AllowedIps(w, "10.8.0.2/32");
            w.EndNested(p);
            w.EndNested(peers);
        });
        using var second = Reply(w =>
        {
            int peers = w.BeginNested(WGDEVICE_A_PEERS);
            int p = w.BeginNested(0);
            w.Bytes(WGPEER_A_PUBLIC_KEY, peerKey);
            AllowedIps(w, "fd00::2/128");
            w.EndNested(p);
            w.EndNested(peers);
        });
        var builder = new WireGuardDeviceBuilder();
        Assert.True(TryMergeGetReply(Payload(first), builder));
        Assert.True(TryMergeGetReply(Payload(second), builder));
        using var device = builder.Build();
        Assert.Equal(7, device.InterfaceIndex);
        Assert.Equal(51820, device.ListenPort);
        Assert.Equal(new WireGuardPrivateKey(privateKey).PublicKey(), device.PublicKey);
        var peer = Assert.Single(device.Peers);
        Assert.Equal(["10.8.0.2/32", "fd00::2/128"], peer.AllowedIPs.Select(a => a.ToString()));
        Assert.Equal(IPEndPoint.Parse("192.168.77.2:40000"), peer.Endpoint);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), peer.LastHandshake);
        Assert.Equal(1234UL, peer.ReceiveBytes);
        Assert.Equal(5678UL, peer.TransmitBytes);
        Assert.Equal(25, peer.PersistentKeepaliveSeconds);
    }

    [Fact]
    public void Hostile_replies_never_throw()
    {
        var random = new Random(8090);
        using var valid = Reply(w =>
        {
            int peers = w.BeginNested(WGDEVICE_A_PEERS);
            int p = w.BeginNested(0);
            w.Bytes(WGPEER_A_PUBLIC_KEY, new byte[32]);
            AllowedIps(w, "10.8.0.0/24");
            w.EndNested(p);
            w.EndNested(peers);
        });
        var template = Payload(valid).ToArray();
        for (int i = 0; i < 20_000; i++)
        {
            var bytes = template.ToArray();
            for (int flips = random.Next(1, 6); flips > 0; flips--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var cut = bytes.AsSpan(0, random.Next(bytes.Length + 1));
            WireGuardNetlink.TryMergeGetReply(cut, new WireGuardDeviceBuilder());
            var reader = new NetlinkMessageReader(cut);
            while (reader.TryNext(out _, out _)) { }
            Links.Rtnetlink.TryParseLink(cut, out _);
            Links.Rtnetlink.TryParseAddress(cut, out _, out _);
            Links.Rtnetlink.TryParseRoute(cut, out _, out _);
        }
    }

    [Fact]
    public void An_error_reply_carries_the_kernels_extended_ack_text()
    {
        using var error = new NetlinkMessageWriter(Linux.Netlink.NetlinkConstants.NLMSG_ERROR, Linux.Netlink.NetlinkConstants.NLM_F_CAPPED | Linux.Netlink.NetlinkConstants.NLM_F_ACK_TLVS);
        var body = error.Reserve(4 + 16);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(body, -95);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body[4..], 16);
        error.String(Linux.Netlink.NetlinkConstants.NLMSGERR_ATTR_MSG, "Unknown device type");
        Assert.True(NetlinkHeader.TryRead(error.Message, out var header));
        Assert.Equal("Unknown device type", NetlinkSocket.ExtendedAckMessage(header, error.Message[16..]));
    }

    [Fact]
    public void Missing_family_and_missing_permission_become_clear_advice()
    {
        Assert.Contains("no wireguard kernel module", KernelWireGuard.Advice((int)Linux.Errno.ENOENT));
        Assert.Contains("no wireguard kernel module", KernelWireGuard.Advice((int)Linux.Errno.EOPNOTSUPP));
        Assert.Contains("CAP_NET_ADMIN", KernelWireGuard.Advice((int)Linux.Errno.EPERM));
        var e = new NetlinkException("netlink CTRL_CMD_GETFAMILY", "wireguard", (int)Linux.Errno.ENOENT, null, KernelWireGuard.Advice(2));
        Assert.Contains("userspace backend", e.Message);
    }

    private static NetlinkMessageWriter Reply(Action<NetlinkMessageWriter> attributes)
    {
        var w = GenericNetlink.NewRequest(0x1a, WG_CMD_GET_DEVICE, 1, Linux.Netlink.NetlinkConstants.NLM_F_MULTI);
        attributes(w);
        return w;
    }

    private static ReadOnlySpan<byte> Payload(NetlinkMessageWriter w) => w.Message[NetlinkHeader.Size..];

    private static void AllowedIps(NetlinkMessageWriter w, params string[] prefixes)
    {
        int ips = w.BeginNested(WGPEER_A_ALLOWEDIPS);
        ushort i = 0;
        foreach (var text in prefixes)
        {
            var prefix = IpPrefix.Parse(text);
            int ip = w.BeginNested(i++);
            w.U16(WGALLOWEDIP_A_FAMILY, (ushort)(prefix.Family == System.Net.Sockets.AddressFamily.InterNetwork ? 2 : 10));
            w.Bytes(WGALLOWEDIP_A_IPADDR, prefix.Address.GetAddressBytes());
            w.U8(WGALLOWEDIP_A_CIDR_MASK, (byte)prefix.PrefixLength);
            w.EndNested(ip);
        }
        w.EndNested(ips);
    }

    private static IEnumerable<(ushort Type, byte[] Value)> Attributes(ReadOnlySpan<byte> span)
    {
        var list = new List<(ushort, byte[])>();
        var reader = new AttributeReader(span);
        while (reader.TryNext(out var t, out var v)) list.Add((t, v.ToArray()));
        return list;
    }

    private static bool HasReplacePeers(NetlinkMessageWriter m) =>
        Attributes(m.Message[20..]).Any(a => a.Type == WGDEVICE_A_FLAGS && BitConverter.ToUInt32(a.Value) == WGDEVICE_F_REPLACE_PEERS);

    private static int CountPeers(NetlinkMessageWriter m) =>
        Attributes(m.Message[20..]).Where(a => a.Type == WGDEVICE_A_PEERS).Sum(a => Attributes(a.Value).Count());

    private static uint FirstPeerFlags(NetlinkMessageWriter m)
    {
        var peers = Attributes(m.Message[20..]).First(a => a.Type == WGDEVICE_A_PEERS).Value;
        var peer = Attributes(peers).First().Value;
        return Attributes(peer).Where(a => a.Type == WGPEER_A_FLAGS).Select(a => BitConverter.ToUInt32(a.Value)).FirstOrDefault();
    }
}
