using System.Buffers.Binary;

namespace Ppn.Genesis.Beacon;

/// <summary>
/// Finds the UDP payload in a raw Ethernet frame as AF_PACKET delivers it (IPv4 or IPv6, no VLAN tag,
/// no IPv4 fragments, no IPv6 extension headers: beacons never need them). Never throws.
/// </summary>
public static class LinkFrame
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeIPv6 = 0x86DD;
    private const int EthernetHeader = 14;

    public static bool TryGetUdpPayload(ReadOnlySpan<byte> frame, ushort destinationPort, out int payloadOffset, out int payloadLength)
    {
        payloadOffset = payloadLength = 0;
        if (frame.Length < EthernetHeader) return false;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var ip = frame[EthernetHeader..];
        int udpAt;
        int ipPayloadLength;
        if (etherType == EtherTypeIPv4)
        {
            if (ip.Length < 20 || ip[0] >> 4 != 4) return false;
            int ihl = (ip[0] & 0x0f) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            if (ihl < 20 || total < ihl || total > ip.Length || ip[9] != 17) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0) return false; // MF or an offset: a fragment
            udpAt = ihl;
            ipPayloadLength = total - ihl;
        }
        else if (etherType == EtherTypeIPv6)
        {
            if (ip.Length < 40 || ip[0] >> 4 != 6 || ip[6] != 17) return false;
            int payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            if (40 + payload > ip.Length) return false;
            udpAt = 40;
            ipPayloadLength = payload;
        }
        else
        {
            return false;
        }
        if (ipPayloadLength < 8) return false;
        var udp = ip.Slice(udpAt, ipPayloadLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != destinationPort) return false;
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength > udp.Length) return false;
        payloadOffset = EthernetHeader + udpAt + 8;
        payloadLength = udpLength - 8;
        return true;
    }
}
