using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Commands;

public sealed class CommandListenerOptions
{
    public const int DefaultPort = Ppn.Formats.PpnPorts.Commands;

    /// <summary>The appliance binds ppn0's address; tests bind 127.0.0.1 or ::1.</summary>
    public required IPAddress BindAddress { get; init; }
    /// <summary>0 picks an ephemeral port (tests); see <see cref="CommandListener.LocalEndPoint"/>.</summary>
    public int Port { get; init; } = DefaultPort;
    /// <summary>SO_RCVBUF request; root gets it via SO_RCVBUFFORCE past net.core.rmem_max.</summary>
    public int ReceiveBufferBytes { get; init; } = 4 << 20;
    /// <summary>Datagrams per recvmmsg(2) call.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Accepted commands waiting for the executor; beyond this they are journalled as QueueFull.</summary>
    public int ExecutorQueueCapacity { get; init; } = 64;
    /// <summary>
    /// At most one reject summary per interval goes to <see cref="ICommandLog"/>, and rejects are never held longer:
    /// the summary is flushed when the interval ends even if no other datagram arrives.
    /// </summary>
    public TimeSpan RejectSummaryInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>A rate-limited account of rejected datagrams since the previous summary.</summary>
public readonly record struct RejectSummary(long RejectedSinceLast, long IntervalNanoseconds, CommandVerdict LastVerdict, CommandSource LastSource);

/// <summary>Where the listener reports; implementations format (and allocate) only per summary, never per datagram.</summary>
public interface ICommandLog
{
    void RejectSummary(in RejectSummary summary);
    void ListenerFailed(Exception error);
}

/// <summary>
/// UDP command intake: one receive thread drains the socket with batched recvmmsg(2) and verifies every datagram
/// in place (no allocation per datagram); accepted commands go through a bounded channel to one executor thread,
/// so a slow intent (a reboot, an ethtool call) never stalls verification. The socket is shut for writing right
/// after bind: the node never sends on 8090 (the diode rule), and the kernel enforces it (sendto → EPIPE).
/// </summary>
public sealed unsafe class CommandListener : IDisposable
{
    private const int SlotBytes = 32; // larger than a command, so oversize datagrams show as MSG_TRUNC/wrong length
    private const int NameBytes = 28; // sizeof(sockaddr_in6) ≥ sizeof(sockaddr_in)

    private readonly CommandListenerOptions _options;
    private readonly CommandVerifier _verifier;
    private readonly CommandDispatcher _dispatcher;
    private readonly CommandJournal _journal;
    private readonly ICommandLog? _log;
    private readonly SafeFd _socket;
    private readonly SafeFd _wake;
    private readonly Channel<AcceptedCommand> _queue;
    private readonly Thread _receiveThread;
    private readonly Thread _executorThread;
    private readonly int _batch;
    private byte* _buffers;
    private byte* _names;
    private LibC.iovec* _iovecs;
    private LibC.mmsghdr* _messages;
    private long _datagrams;
    private long _queueFull;
    private long _receiveCalls;
    private int _disposed;

    private CommandListener(CommandListenerOptions options, CommandVerifier verifier, CommandDispatcher dispatcher,
        CommandJournal journal, ICommandLog? log)
    {
        _options = options;
        _verifier = verifier;
        _dispatcher = dispatcher;
        _journal = journal;
        _log = log;
        _batch = Math.Clamp(options.BatchSize, 1, 1024);
        _socket = OpenSocket(options, out var local, out var rcvbuf);
        LocalEndPoint = local;
        ReceiveBufferBytes = rcvbuf;
        int wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        SyscallException.ThrowIfFailed(wake, "eventfd", "command listener wake-up");
        _wake = new SafeFd(wake);
        AllocateRing();
        _queue = Channel.CreateBounded<AcceptedCommand>(new BoundedChannelOptions(Math.Max(1, options.ExecutorQueueCapacity))
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping silently
        });
        _receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = "ppn-cmd-rx" };
        _executorThread = new Thread(ExecutorLoop) { IsBackground = true, Name = "ppn-cmd-exec" };
    }

    /// <summary>Binds, then starts the receive and executor threads.</summary>
    public static CommandListener Start(CommandListenerOptions options, CommandVerifier verifier, CommandDispatcher dispatcher,
        CommandJournal journal, ICommandLog? log = null)
    {
        var listener = new CommandListener(options, verifier, dispatcher, journal, log);
        listener._executorThread.Start();
        listener._receiveThread.Start();
        return listener;
    }

    public IPEndPoint LocalEndPoint { get; }
    /// <summary>The receive buffer the kernel granted (getsockopt SO_RCVBUF, which reports twice the request).</summary>
    public int ReceiveBufferBytes { get; }
    public long DatagramsReceived => Interlocked.Read(ref _datagrams);
    public long ReceiveCalls => Interlocked.Read(ref _receiveCalls);
    public long QueueFull => Interlocked.Read(ref _queueFull);
    public VerdictCounters Counters => _verifier.Counters;
    public Exception? Failure { get; private set; }

    private static SafeFd OpenSocket(CommandListenerOptions options, out IPEndPoint local, out int granted)
    {
        bool v6 = options.BindAddress.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC | LibC.SOCK_NONBLOCK, LibC.IPPROTO_UDP);
        SyscallException.ThrowIfFailed(fd, "socket", "UDP command socket");
        var socket = new SafeFd(fd);
        try
        {
            int size = options.ReceiveBufferBytes;
            if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, &size, sizeof(int)) != 0)
            {
                // Unprivileged: capped at net.core.rmem_max, still the largest we may have.
                SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, &size, sizeof(int)), "setsockopt", "SO_RCVBUF");
            }
            uint len = sizeof(int);
            int actual = 0;
            SyscallException.ThrowIfFailed(LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, &actual, &len), "getsockopt", "SO_RCVBUF");
            granted = actual;

            byte* name = stackalloc byte[NameBytes];
            new Span<byte>(name, NameBytes).Clear();
            uint nameLength;
            if (v6)
            {
                int v6only = 1;
                LibC.setsockopt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, &v6only, sizeof(int));
                var sa = (LibC.sockaddr_in6*)name;
                sa->sin6_family = LibC.AF_INET6;
                sa->sin6_port = BinaryPrimitives.ReverseEndianness((ushort)options.Port);
                options.BindAddress.TryWriteBytes(new Span<byte>(sa->sin6_addr, 16), out _);
                sa->sin6_scope_id = (uint)options.BindAddress.ScopeId;
                nameLength = (uint)sizeof(LibC.sockaddr_in6);
            }
            else
            {
                var sa = (LibC.sockaddr_in*)name;
                sa->sin_family = LibC.AF_INET;
                sa->sin_port = BinaryPrimitives.ReverseEndianness((ushort)options.Port);
                options.BindAddress.TryWriteBytes(new Span<byte>(sa->sin_addr, 4), out _);
                nameLength = (uint)sizeof(LibC.sockaddr_in);
            }
            var where = $"{options.BindAddress} port {options.Port}";
            SyscallException.ThrowIfFailed(LibC.bind(fd, name, nameLength), "bind", where,
                "check that the address is configured (ppn0 up) and nothing else listens on the port");
            // The diode: the kernel refuses every send on this socket from now on (udp_sendmsg → EPIPE).
            // On an unconnected UDP socket shutdown(2) reports ENOTCONN but still records SEND_SHUTDOWN.
            LibC.shutdown(fd, LibC.SHUT_WR);

            uint got = NameBytes;
            SyscallException.ThrowIfFailed(LibC.getsockname(fd, name, &got), "getsockname", where);
            local = ToEndPoint(name);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void AllocateRing()
    {
        _buffers = (byte*)NativeMemory.AllocZeroed((nuint)(_batch * SlotBytes));
        _names = (byte*)NativeMemory.AllocZeroed((nuint)(_batch * NameBytes));
        _iovecs = (LibC.iovec*)NativeMemory.AllocZeroed((nuint)(_batch * sizeof(LibC.iovec)));
        _messages = (LibC.mmsghdr*)NativeMemory.AllocZeroed((nuint)(_batch * sizeof(LibC.mmsghdr)));
        for (int i = 0; i < _batch; i++)
        {
            _iovecs[i].iov_base = _buffers + i * SlotBytes;
            _iovecs[i].iov_len = SlotBytes;
            _messages[i].msg_hdr.msg_iov = &_iovecs[i];
            _messages[i].msg_hdr.msg_iovlen = 1;
            _messages[i].msg_hdr.msg_name = _names + i * NameBytes;
        }
    }

    private void ReceiveLoop()
    {
        try
        {
            var fds = stackalloc LibC.pollfd[2];
            fds[0] = new LibC.pollfd { fd = _socket.Fd, events = LibC.POLLIN };
            fds[1] = new LibC.pollfd { fd = _wake.Fd, events = LibC.POLLIN };
            long summaryInterval = (long)(_options.RejectSummaryInterval.TotalSeconds * 1_000_000_000);
            long lastSummary = MonotonicNanoseconds();
            long rejectsSinceSummary = 0;
            var lastVerdict = CommandVerdict.Accepted;
            CommandSource lastSource = default;
            void FlushSummary(long now)
            {
                _log?.RejectSummary(new RejectSummary(rejectsSinceSummary, now - lastSummary, lastVerdict, lastSource));
                rejectsSinceSummary = 0;
                lastSummary = now;
            }
            while (true)
            {
                fds[0].revents = 0;
                fds[1].revents = 0;
                // Rejects waiting for their summary bound the wait: a lone reject is reported within one interval,
                // not only when another datagram happens to arrive later.
                int timeoutMs = -1;
                if (rejectsSinceSummary > 0)
                {
                    long due = lastSummary + summaryInterval - MonotonicNanoseconds();
                    timeoutMs = (int)Math.Clamp((due + 999_999) / 1_000_000, 0, int.MaxValue);
                }
                int ready = LibC.poll(fds, 2, timeoutMs);
                if (ready < 0)
                {
                    if (Marshal.GetLastPInvokeError() == (int)Errno.EINTR) continue;
                    throw new SyscallException("poll", "command socket", Marshal.GetLastPInvokeError());
                }
                if (fds[1].revents != 0)
                {
                    if (rejectsSinceSummary > 0) FlushSummary(MonotonicNanoseconds());
                    return;
                }
                if (ready == 0)
                {
                    long now = MonotonicNanoseconds();
                    if (rejectsSinceSummary > 0 && now - lastSummary >= summaryInterval) FlushSummary(now);
                    continue;
                }

                while (true)
                {
                    for (int i = 0; i < _batch; i++)
                    {
                        _messages[i].msg_hdr.msg_namelen = NameBytes;
                        _messages[i].msg_hdr.msg_flags = 0;
                        _messages[i].msg_len = 0;
                    }
                    int n = LibC.recvmmsg(_socket.Fd, _messages, (uint)_batch, LibC.MSG_DONTWAIT, null);
                    Interlocked.Increment(ref _receiveCalls);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == (int)Errno.EINTR) continue;
                        if (errno == (int)Errno.EAGAIN) break;
                        throw new SyscallException("recvmmsg", $"command socket {LocalEndPoint}", errno);
                    }
                    Interlocked.Add(ref _datagrams, n);
                    long now = MonotonicNanoseconds();
                    for (int i = 0; i < n; i++)
                    {
                        int length = (int)_messages[i].msg_len;
                        if ((_messages[i].msg_hdr.msg_flags & LibC.MSG_TRUNC) != 0) length = SlotBytes;
                        var datagram = new ReadOnlySpan<byte>(_buffers + i * SlotBytes, Math.Min(length, SlotBytes));
                        var source = ToSource(_names + i * NameBytes);
                        var verdict = _verifier.Verify(datagram, out var packet, out var sequence);
                        if (verdict == CommandVerdict.Accepted)
                        {
                            if (!_queue.Writer.TryWrite(new AcceptedCommand(packet, sequence, source, now)))
                            {
                                Interlocked.Increment(ref _queueFull);
                                _journal.Record(new CommandJournalEntry(now, verdict, DispatchOutcome.QueueFull,
                                    packet.IntentCode, packet.Argument, packet.Target, packet.Counter, packet.Epoch, source));
                            }
                        }
                        else
                        {
                            _journal.Record(new CommandJournalEntry(now, verdict, DispatchOutcome.None,
                                packet.IntentCode, packet.Argument, packet.Target, packet.Counter, packet.Epoch, source));
                            rejectsSinceSummary++;
                            lastVerdict = verdict;
                            lastSource = source;
                            if (now - lastSummary >= summaryInterval) FlushSummary(now);
                        }
                    }
                    if (n < _batch) break;
                }
            }
        }
        catch (Exception e)
        {
            Failure = e;
            _log?.ListenerFailed(e);
        }
        finally
        {
            _queue.Writer.TryComplete();
        }
    }

    private void ExecutorLoop()
    {
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var command))
            {
                _dispatcher.Dispatch(command);
            }
        }
    }

    public static long MonotonicNanoseconds()
    {
        long ticks = Stopwatch.GetTimestamp();
        return (long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
    }

    private static CommandSource ToSource(byte* name)
    {
        ushort family = *(ushort*)name;
        if (family == LibC.AF_INET6)
        {
            var sa = (LibC.sockaddr_in6*)name;
            return new CommandSource(new ReadOnlySpan<byte>(sa->sin6_addr, 16), BinaryPrimitives.ReverseEndianness(sa->sin6_port));
        }
        if (family == LibC.AF_INET)
        {
            var sa = (LibC.sockaddr_in*)name;
            return CommandSource.FromIPv4(new ReadOnlySpan<byte>(sa->sin_addr, 4), BinaryPrimitives.ReverseEndianness(sa->sin_port));
        }
        return default;
    }

    private static IPEndPoint ToEndPoint(byte* name)
    {
        var source = ToSource(name);
        return new IPEndPoint(source.Address, source.Port);
    }

    /// <summary>Test hook for the diode: tries one sendto(2) on the listening socket and returns its errno (0 = sent).</summary>
    internal int TrySendOnListeningSocket(IPEndPoint destination)
    {
        byte* name = stackalloc byte[NameBytes];
        new Span<byte>(name, NameBytes).Clear();
        uint len;
        if (destination.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var sa = (LibC.sockaddr_in6*)name;
            sa->sin6_family = LibC.AF_INET6;
            sa->sin6_port = BinaryPrimitives.ReverseEndianness((ushort)destination.Port);
            destination.Address.TryWriteBytes(new Span<byte>(sa->sin6_addr, 16), out _);
            len = (uint)sizeof(LibC.sockaddr_in6);
        }
        else
        {
            var sa = (LibC.sockaddr_in*)name;
            sa->sin_family = LibC.AF_INET;
            sa->sin_port = BinaryPrimitives.ReverseEndianness((ushort)destination.Port);
            destination.Address.TryWriteBytes(new Span<byte>(sa->sin_addr, 4), out _);
            len = (uint)sizeof(LibC.sockaddr_in);
        }
        byte probe = 0;
        nint n = LibC.sendto(_socket.Fd, &probe, 1, LibC.MSG_DONTWAIT, name, len);
        return n < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ulong one = 1;
        LibC.write(_wake.Fd, (byte*)&one, sizeof(ulong));
        _receiveThread.Join(TimeSpan.FromSeconds(10));
        _queue.Writer.TryComplete();
        _executorThread.Join(TimeSpan.FromSeconds(10));
        _socket.Dispose();
        _wake.Dispose();
        NativeMemory.Free(_buffers);
        NativeMemory.Free(_names);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_messages);
        _buffers = _names = null;
        _iovecs = null;
        _messages = null;
    }
}
