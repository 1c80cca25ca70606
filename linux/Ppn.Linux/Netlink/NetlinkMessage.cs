using System.Buffers.Binary;

namespace Ppn.Linux.Netlink;

/// <summary>struct nlmsghdr and the constants of linux/netlink.h every netlink family shares.</summary>
public readonly record struct NetlinkHeader(uint Length, ushort Type, ushort Flags, uint Sequence, uint PortId)
{
    public const int Size = 16;

    public static bool TryRead(ReadOnlySpan<byte> source, out NetlinkHeader header)
    {
        if (source.Length < Size)
        {
            header = default;
            return false;
        }
        header = new NetlinkHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], PortId);
    }
}

public static class NetlinkConstants
{
    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort NLMSG_OVERRUN = 4;

    public const ushort NLM_F_REQUEST = 0x1;
    public const ushort NLM_F_MULTI = 0x2;
    public const ushort NLM_F_ACK = 0x4;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_ROOT = 0x100;
    public const ushort NLM_F_MATCH = 0x200;
    public const ushort NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
    public const ushort NLM_F_REPLACE = 0x100;
    public const ushort NLM_F_EXCL = 0x200;
    public const ushort NLM_F_CREATE = 0x400;

    /// <summary>In an NLMSG_ERROR reply: the original request is not echoed back (capped ack).</summary>
    public const ushort NLM_F_CAPPED = 0x100;
    /// <summary>In an NLMSG_ERROR reply: extended-ack TLVs follow.</summary>
    public const ushort NLM_F_ACK_TLVS = 0x200;

    public const ushort NLMSGERR_ATTR_MSG = 1;

    public const ushort NLA_F_NESTED = 0x8000;
    public const ushort NLA_F_NET_BYTEORDER = 0x4000;
    public const ushort NLA_TYPE_MASK = 0x3FFF;

    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>Walks the messages of one received datagram. Never throws: a malformed message ends the walk.</summary>
public ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram) => _rest = datagram;

    public bool Malformed { get; private set; }

    public bool TryNext(out NetlinkHeader header, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (_rest.IsEmpty || !NetlinkHeader.TryRead(_rest, out header))
        {
            Malformed = !_rest.IsEmpty;
            header = default;
            return false;
        }
        if (header.Length < NetlinkHeader.Size || header.Length > _rest.Length)
        {
            Malformed = true;
            return false;
        }
        payload = _rest[NetlinkHeader.Size..(int)header.Length];
        int advance = Math.Min(NetlinkConstants.Align((int)header.Length), _rest.Length);
        _rest = _rest[advance..];
        return true;
    }
}
