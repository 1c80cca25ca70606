using System.Runtime.InteropServices;

namespace Ppn.Linux.Interop;

/// <summary>Socket calls netlink needs (bind, send, recv, options) and setns(2) for network namespaces.</summary>
public static unsafe partial class LibC
{
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockname(int fd, void* addr, uint* addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendto(int fd, byte* buf, nuint len, int flags, void* addr, uint addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint len);

    /// <summary>Moves the calling thread into the namespace behind <paramref name="fd"/> (setns(2)).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);
}

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

    /// <summary>sched.h: setns(2) nstype for a network namespace.</summary>
    public const int CLONE_NEWNET = 0x40000000;
}
