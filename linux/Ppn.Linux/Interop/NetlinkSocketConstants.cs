namespace Ppn.Linux.Interop;

/// <summary>Socket constants for netlink (linux/socket.h, linux/netlink.h, asm-generic/socket.h).</summary>
public static class NetlinkSocketConstants
{
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_RCVTIMEO = 20;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SOL_NETLINK = 270;
    public const int NETLINK_EXT_ACK = 11;
    public const int NETLINK_GET_STRICT_CHK = 12;
    public const int NETLINK_ROUTE = 0;
    public const int NETLINK_GENERIC = 16;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_PEEK = 0x2;
}
