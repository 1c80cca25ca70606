using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ppn.Linux.Interop;
using static Ppn.Linux.Interop.NetlinkSocketConstants;
using static Ppn.Linux.Netlink.NetlinkConstants;

namespace Ppn.Linux.Netlink;

/// <summary>A netlink request the kernel refused: the operation, the errno, the kernel's extended-ack text, and what to do.</summary>
public sealed class NetlinkException : SyscallException
{
    public NetlinkException(string operation, string? target, int errno, string? kernelMessage = null, string? advice = null)
        : base(operation, target, errno, Combine(kernelMessage, advice))
    {
        KernelMessage = kernelMessage;
    }

    public string? KernelMessage { get; }

    private static string? Combine(string? kernelMessage, string? advice) =>
        (kernelMessage, advice) switch
        {
            (null or "", null) => null,
            (null or "", _) => advice,
            (_, null) => $"kernel says: {kernelMessage}",
            _ => $"kernel says: {kernelMessage}; {advice}",
        };
}

/// <summary>Called for each reply message of a request; the payload is only valid during the call (the buffer is zeroed after).</summary>
public delegate void NetlinkReplyHandler(in NetlinkHeader header, ReadOnlySpan<byte> payload);

/// <summary>
/// One AF_NETLINK socket (NETLINK_ROUTE, NETLINK_GENERIC): request/reply with sequence numbers, multi-part
/// dumps ending in NLMSG_DONE, and NLMSG_ERROR turned into <see cref="NetlinkException"/>. Extended acks are
/// enabled so the kernel's own error text reaches the message. Every receive is bounded (SO_RCVTIMEO).
/// </summary>
public sealed unsafe class NetlinkSocket : IDisposable
{
    private readonly SafeFd _fd;
    private uint _sequence;
    private byte[] _receive = new byte[32 * 1024];

    public NetlinkSocket(int protocol, TimeSpan? receiveTimeout = null)
    {
        Protocol = protocol;
        int fd = SyscallException.ThrowIfFailed(LibC.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol), "socket", $"AF_NETLINK protocol {protocol}");
        _fd = new SafeFd(fd);
        try
        {
            byte* addr = stackalloc byte[12];
            new Span<byte>(addr, 12).Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(addr, 2), AF_NETLINK);
            SyscallException.ThrowIfFailed(LibC.bind(fd, addr, 12), "bind", "netlink socket");
            uint len = 12;
            SyscallException.ThrowIfFailed(LibC.getsockname(fd, addr, &len), "getsockname", "netlink socket");
            PortId = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(addr + 4, 4));
            int one = 1;
            // Best effort: older kernels lack extended ack; errors are still reported without the text.
            LibC.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(int));
            var timeout = receiveTimeout ?? TimeSpan.FromSeconds(5);
            long* tv = stackalloc long[2];
            tv[0] = (long)timeout.TotalSeconds;
            tv[1] = timeout.Milliseconds * 1000L;
            SyscallException.ThrowIfFailed(LibC.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), "setsockopt(SO_RCVTIMEO)", "netlink socket");
            _sequence = (uint)Environment.TickCount;
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    public int Protocol { get; }
    public uint PortId { get; }

    /// <summary>
    /// Sends <paramref name="request"/> and delivers each data reply to <paramref name="onReply"/>. Returns when the
    /// kernel acknowledged (NLMSG_ERROR with 0) or a dump ended (NLMSG_DONE). A request without NLM_F_DUMP gets
    /// NLM_F_ACK added so completion is always explicit.
    /// </summary>
    public void Request(NetlinkMessageWriter request, string operation, string? target, NetlinkReplyHandler? onReply = null, Func<int, string?>? advice = null)
    {
        bool dump = (request.Flags & NLM_F_DUMP) == NLM_F_DUMP;
        uint sequence = ++_sequence;
        request.SetSequence(sequence);
        var message = request.Message;
        if (!dump && (request.Flags & NLM_F_ACK) == 0)
        {
            throw new ArgumentException("a non-dump request must carry NLM_F_ACK", nameof(request));
        }
        Send(message, operation, target);
        try
        {
            while (true)
            {
                int n = Receive(operation, target);
                var reader = new NetlinkMessageReader(_receive.AsSpan(0, n));
                while (reader.TryNext(out var header, out var payload))
                {
                    if (header.Sequence != sequence || (header.PortId != PortId && header.PortId != 0))
                    {
                        continue; // a stale reply to an earlier, abandoned request
                    }
                    switch (header.Type)
                    {
                        case NLMSG_NOOP:
                            continue;
                        case NLMSG_ERROR:
                            {
                                int error = payload.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : -(int)Errno.EIO;
                                if (error == 0)
                                {
                                    return;
                                }
                                var text = ExtendedAckMessage(header, payload);
                                throw new NetlinkException(operation, target, -error, text, advice?.Invoke(-error));
                            }
                        case NLMSG_DONE:
                            {
                                int error = payload.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : 0;
                                if (error < 0)
                                {
                                    throw new NetlinkException(operation, target, -error, null, advice?.Invoke(-error));
                                }
                                return;
                            }
                        case NLMSG_OVERRUN:
                            throw new NetlinkException(operation, target, (int)Errno.EIO, "netlink overrun");
                        default:
                            onReply?.Invoke(header, payload);
                            break;
                    }
                }
                if (reader.Malformed)
                {
                    throw new NetlinkException(operation, target, (int)Errno.EIO, "malformed netlink reply");
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(_receive);
        }
    }

    /// <summary>The NLMSGERR_ATTR_MSG text of an extended ack, if the kernel sent one.</summary>
    public static string? ExtendedAckMessage(in NetlinkHeader header, ReadOnlySpan<byte> payload)
    {
        if ((header.Flags & NLM_F_ACK_TLVS) == 0 || payload.Length < 4 + NetlinkHeader.Size)
        {
            return null;
        }
        int skip = 4 + NetlinkHeader.Size;
        if ((header.Flags & NLM_F_CAPPED) == 0 && NetlinkHeader.TryRead(payload[4..], out var original))
        {
            skip = 4 + NetlinkConstants.Align((int)original.Length);
        }
        if (skip > payload.Length)
        {
            return null;
        }
        var attrs = new AttributeReader(payload[skip..]);
        while (attrs.TryNext(out var type, out var value))
        {
            if (type == NLMSGERR_ATTR_MSG)
            {
                return AttributeValue.String(value);
            }
        }
        return null;
    }

    private void Send(ReadOnlySpan<byte> message, string operation, string? target)
    {
        byte* addr = stackalloc byte[12];
        new Span<byte>(addr, 12).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(addr, 2), AF_NETLINK);
        fixed (byte* p = message)
        {
            while (true)
            {
                nint n = LibC.sendto(_fd.Fd, p, (nuint)message.Length, 0, addr, 12);
                if (n >= 0)
                {
                    return;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno != (int)Errno.EINTR)
                {
                    throw new NetlinkException(operation, target, errno, null, "sending the netlink request failed");
                }
            }
        }
    }

    private int Receive(string operation, string? target)
    {
        while (true)
        {
            // Peek with MSG_TRUNC for the datagram's real size so a large dump part is never cut.
            nint size;
            fixed (byte* p = _receive)
            {
                size = LibC.recv(_fd.Fd, p, (nuint)_receive.Length, MSG_PEEK | MSG_TRUNC);
            }
            if (size >= 0 && size > _receive.Length)
            {
                CryptographicOperations.ZeroMemory(_receive);
                _receive = new byte[NetlinkConstants.Align((int)size)];
            }
            nint n = -1;
            if (size >= 0)
            {
                fixed (byte* p = _receive)
                {
                    n = LibC.recv(_fd.Fd, p, (nuint)_receive.Length, 0);
                }
            }
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == (int)Errno.EINTR)
            {
                continue;
            }
            if (errno == (int)Errno.EAGAIN)
            {
                throw new NetlinkException(operation, target, (int)Errno.ETIMEDOUT, null, "the kernel did not answer the netlink request in time");
            }
            throw new NetlinkException(operation, target, errno, null, "receiving the netlink reply failed");
        }
    }

    public void Dispose()
    {
        _fd.Dispose();
        CryptographicOperations.ZeroMemory(_receive);
    }
}
