using System.Runtime.InteropServices;

#pragma warning disable CS8981 // kernel struct names kept as in the headers (iovec, msghdr, mmsghdr, pollfd)

namespace Ppn.Linux.Interop;

// UDP datagram sockets with batched receive (recvmmsg(2)) for the 8090 command listener.
// Layouts are x86-64/arm64 LP64 (sys/socket.h, bits/uio.h, linux/in6.h); CommandInteropLayoutTests compiles
// the kernel/glibc headers with gcc and compares every size and offset.
public static unsafe partial class LibC
{
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_IPV6 = 41;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_RCVBUF = 8;
    public const int SO_RCVBUFFORCE = 33;
    /// <summary>Several sockets share one address and port; the kernel spreads datagrams over them by flow hash (socket(7)).</summary>
    public const int SO_REUSEPORT = 15;
    /// <summary>
    /// Each received datagram carries an SCM (SOL_SOCKET, SO_RXQ_OVFL) control message: a u32, the socket's drop
    /// count (sk_drops) when it was dequeued. The kernel adds to sk_drops when the receive queue is full and when a
    /// socket filter refuses a datagram (net/ipv4/udp.c, udp_queue_rcv_one_skb).
    /// </summary>
    public const int SO_RXQ_OVFL = 40;
    /// <summary>
    /// Only packets that arrived on this interface index reach the socket (socket(7), Linux 5.0; asm-generic/socket.h).
    /// A bound address alone does not: Linux takes a packet for any local address on any interface (weak host model).
    /// </summary>
    public const int SO_BINDTOIFINDEX = 62;
    /// <summary>The same by name (a NUL-terminated string of at most IFNAMSIZ − 1 bytes), resolved when it is set.</summary>
    public const int SO_BINDTODEVICE = 25;
    /// <summary>getsockopt: u32[SK_MEMINFO_VARS] of the socket's memory accounting (linux/sock_diag.h), SK_MEMINFO_DROPS among them.</summary>
    public const int SO_MEMINFO = 55;
    public const int SK_MEMINFO_VARS = 9;
    public const int SK_MEMINFO_DROPS = 8;
    public const int IPV6_V6ONLY = 26;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;
    public const int SHUT_RD = 0;
    public const int SHUT_WR = 1;
    public const short POLLIN = 0x1;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int recvmmsg(int fd, mmsghdr* msgvec, uint vlen, int flags, void* timeout);

    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct iovec
    {
        [FieldOffset(0)] public void* iov_base;
        [FieldOffset(8)] public nuint iov_len;
    }

    [StructLayout(LayoutKind.Explicit, Size = 56)]
    public struct msghdr
    {
        [FieldOffset(0)] public void* msg_name;
        [FieldOffset(8)] public uint msg_namelen;
        [FieldOffset(16)] public iovec* msg_iov;
        [FieldOffset(24)] public nuint msg_iovlen;
        [FieldOffset(32)] public void* msg_control;
        [FieldOffset(40)] public nuint msg_controllen;
        [FieldOffset(48)] public int msg_flags;
    }

    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct mmsghdr
    {
        [FieldOffset(0)] public msghdr msg_hdr;
        [FieldOffset(56)] public uint msg_len;
    }

    /// <summary>sockaddr_in6 (linux/in6.h). Port and flowinfo are network byte order.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 28)]
    public struct sockaddr_in6
    {
        [FieldOffset(0)] public ushort sin6_family;
        [FieldOffset(2)] public ushort sin6_port;
        [FieldOffset(4)] public uint sin6_flowinfo;
        [FieldOffset(8)] public fixed byte sin6_addr[16];
        [FieldOffset(24)] public uint sin6_scope_id;
    }

    /// <summary>sockaddr_in (linux/in.h). Port and address are network byte order.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct sockaddr_in
    {
        [FieldOffset(0)] public ushort sin_family;
        [FieldOffset(2)] public ushort sin_port;
        [FieldOffset(4)] public fixed byte sin_addr[4];
        [FieldOffset(8)] public fixed byte sin_zero[8];
    }

    /// <summary>struct cmsghdr (16 bytes on LP64: a size_t length, then level and type); data follows, 8-byte aligned.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct cmsghdr
    {
        [FieldOffset(0)] public nuint cmsg_len;
        [FieldOffset(8)] public int cmsg_level;
        [FieldOffset(12)] public int cmsg_type;
    }

    /// <summary>CMSG_ALIGN (bits/socket.h): control messages are aligned to sizeof(size_t).</summary>
    public static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);
    /// <summary>CMSG_SPACE: room for one control message with <paramref name="dataLength"/> bytes of data.</summary>
    public static int CmsgSpace(int dataLength) => CmsgAlign(sizeof(cmsghdr)) + CmsgAlign(dataLength);
    /// <summary>CMSG_LEN: the cmsg_len value of a control message with <paramref name="dataLength"/> bytes of data.</summary>
    public static int CmsgLen(int dataLength) => CmsgAlign(sizeof(cmsghdr)) + dataLength;

    [StructLayout(LayoutKind.Explicit, Size = 8)]
    public struct pollfd
    {
        [FieldOffset(0)] public int fd;
        [FieldOffset(4)] public short events;
        [FieldOffset(6)] public short revents;
    }
}
