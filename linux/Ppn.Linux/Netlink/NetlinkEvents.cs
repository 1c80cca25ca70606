using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ppn.Linux.Interop;
using static Ppn.Linux.Interop.NetlinkSocketConstants;

namespace Ppn.Linux.Netlink;

/// <summary>
/// A NETLINK_ROUTE socket subscribed to multicast groups (rtnetlink(7)): the kernel sends a message for every
/// change in those groups, so a waiter sleeps in poll(2) until something changed instead of polling a file.
/// Messages are only a wake-up: the caller reads the state it cares about again (the source of truth), which
/// also makes a lost notification (ENOBUFS on overrun) harmless — it counts as a change.
/// Create the subscription before the first read of the state, so no change between the two is missed.
/// </summary>
public sealed unsafe class NetlinkEvents : IDisposable
{
    /// <summary>RTMGRP_LINK (linux/rtnetlink.h): link changes, carrier among them (RTM_NEWLINK).</summary>
    public const uint LinkGroup = 0x1;
    /// <summary>RTMGRP_IPV6_IFADDR: IPv6 addresses added, removed or changed (RTM_NEWADDR/RTM_DELADDR), DAD ends too.</summary>
    public const uint Ipv6AddressGroup = 0x100;

    private const int SOCK_NONBLOCK = 0x800;
    private readonly SafeFd _fd;
    private readonly byte[] _buffer = new byte[16 * 1024];

    /// <param name="groups">A bitmask of RTMGRP_* groups (<see cref="LinkGroup"/>, <see cref="Ipv6AddressGroup"/>).</param>
    public NetlinkEvents(uint groups)
    {
        int fd = SyscallException.ThrowIfFailed(LibC.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE),
            "socket", "AF_NETLINK NETLINK_ROUTE (events)");
        _fd = new SafeFd(fd);
        try
        {
            // struct sockaddr_nl: family (u16), pad (u16), pid (u32, 0 = the kernel assigns), groups (u32).
            byte* addr = stackalloc byte[12];
            new Span<byte>(addr, 12).Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(addr, 2), AF_NETLINK);
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(addr + 8, 4), groups);
            SyscallException.ThrowIfFailed(LibC.bind(fd, addr, 12), "bind", $"netlink event groups 0x{groups:x}");
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits until at least one notification arrived or <paramref name="timeout"/> passed; drains everything
    /// queued. True when something changed (or notifications were lost), false at the timeout.
    /// </summary>
    public bool Wait(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)Math.Ceiling(Math.Max(0, timeout.TotalMilliseconds));
        var fds = stackalloc LibC.pollfd[1];
        while (true)
        {
            if (Drain()) return true;
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            fds[0] = new LibC.pollfd { fd = _fd.Fd, events = LibC.POLLIN };
            int ready = LibC.poll(fds, 1, (int)Math.Min(left, int.MaxValue));
            if (ready < 0 && Marshal.GetLastPInvokeError() != (int)Errno.EINTR)
            {
                throw new SyscallException("poll", "netlink event socket", Marshal.GetLastPInvokeError());
            }
        }
    }

    private bool Drain()
    {
        bool any = false;
        fixed (byte* p = _buffer)
        {
            while (true)
            {
                nint n = LibC.recv(_fd.Fd, p, (nuint)_buffer.Length, LibC.MSG_DONTWAIT);
                if (n > 0)
                {
                    any = true;
                    continue;
                }
                if (n == 0) return any;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == (int)Errno.EINTR) continue;
                if (errno == (int)Errno.EAGAIN) return any;
                if (errno == (int)Errno.ENOBUFS) { any = true; continue; } // overrun: something changed
                throw new SyscallException("recv", "netlink event socket", errno);
            }
        }
    }

    public void Dispose() => _fd.Dispose();
}
