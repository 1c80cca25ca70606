using static Ppn.Linux.Netlink.NetlinkConstants;

namespace Ppn.Linux.Netlink;

/// <summary>Generic netlink (linux/genetlink.h): the genlmsghdr and the controller's family lookup.</summary>
public static class GenericNetlink
{
    public const ushort GENL_ID_CTRL = 0x10;
    public const byte CTRL_CMD_GETFAMILY = 3;
    public const ushort CTRL_ATTR_FAMILY_ID = 1;
    public const ushort CTRL_ATTR_FAMILY_NAME = 2;
    public const int HeaderSize = 4;

    /// <summary>A request to family <paramref name="familyId"/>: nlmsghdr + genlmsghdr {cmd, version, reserved}.</summary>
    public static NetlinkMessageWriter NewRequest(ushort familyId, byte command, byte version, ushort flags)
    {
        var writer = new NetlinkMessageWriter(familyId, (ushort)(NLM_F_REQUEST | flags));
        var header = writer.Reserve(HeaderSize);
        header[0] = command;
        header[1] = version;
        return writer;
    }

    /// <summary>CTRL_CMD_GETFAMILY for <paramref name="name"/>, version 1, acked.</summary>
    public static NetlinkMessageWriter GetFamilyRequest(string name)
    {
        var writer = NewRequest(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
        writer.String(CTRL_ATTR_FAMILY_NAME, name);
        return writer;
    }

    /// <summary>CTRL_ATTR_FAMILY_ID from a controller reply payload (genlmsghdr + attributes).</summary>
    public static bool TryParseFamilyId(ReadOnlySpan<byte> payload, out ushort familyId)
    {
        familyId = 0;
        if (payload.Length < HeaderSize)
        {
            return false;
        }
        var attrs = new AttributeReader(payload[HeaderSize..]);
        while (attrs.TryNext(out var type, out var value))
        {
            if (type == CTRL_ATTR_FAMILY_ID && AttributeValue.TryU16(value, out familyId))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Resolves a family name to its id; ENOENT when the family (its kernel module) is absent.</summary>
    public static ushort ResolveFamily(NetlinkSocket socket, string name, Func<int, string?>? advice = null)
    {
        using var request = GetFamilyRequest(name);
        ushort id = 0;
        bool found = false;
        socket.Request(request, "netlink CTRL_CMD_GETFAMILY", name, (in NetlinkHeader _, ReadOnlySpan<byte> payload) =>
        {
            if (TryParseFamilyId(payload, out var parsed))
            {
                id = parsed;
                found = true;
            }
        }, advice);
        if (!found)
        {
            throw new NetlinkException("netlink CTRL_CMD_GETFAMILY", name, (int)Errno.ENOENT, "no CTRL_ATTR_FAMILY_ID in the reply", advice?.Invoke((int)Errno.ENOENT));
        }
        return id;
    }
}
