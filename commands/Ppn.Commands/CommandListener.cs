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
    /// <summary>
    /// SO_RCVBUF request per socket; root gets it via SO_RCVBUFFORCE past net.core.rmem_max (the kernel grants
    /// twice this). 16 MiB holds tens of thousands of 16-byte datagrams (each is charged its skb's true size):
    /// enough to ride out a scheduling gap of tens of milliseconds during a flood at the receiver's capacity. The
    /// memory is taken only while datagrams wait (docs/performance.md, flood).
    /// </summary>
    public int ReceiveBufferBytes { get; init; } = 16 << 20;
    /// <summary>Datagrams per recvmmsg(2) call.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Accepted commands waiting for the executor; beyond this they are journalled as QueueFull.</summary>
    public int ExecutorQueueCapacity { get; init; } = 64;
    /// <summary>
    /// At most one reject summary per interval goes to <see cref="ICommandLog"/>, and rejects are never held longer:
    /// the summary is flushed when the interval ends even if no other datagram arrives.
    /// </summary>
    public TimeSpan RejectSummaryInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Receive sockets in one SO_REUSEPORT group, each drained by its own thread; 0 (the default) picks one per
    /// core, at most <see cref="MaxReceivers"/>. The kernel spreads datagrams over them by flow hash, so one
    /// source (the authority) always lands on the same receiver and its commands keep their order.
    /// </summary>
    public int Receivers { get; init; }
    /// <summary>
    /// Attach the in-kernel prefilter (<see cref="CommandPrefilter"/>): wrong length, version or target is dropped
    /// before it is queued and only counted (<see cref="CommandListener.KernelDrops"/>), never journalled. On by
    /// default; off only to exercise the user-space checks.
    /// </summary>
    public bool KernelPrefilter { get; init; } = true;
    /// <summary>
    /// After a full batch (a flood or a burst), how long a receiver keeps retrying its empty queue before it sleeps in
    /// poll(2) (<see cref="CommandListener.DefaultBusyPoll"/>). Null: 50 µs on a machine with more than one core, none
    /// on a single core (where the spin would only delay the softirq that queues the datagrams). Zero: never spin.
    /// </summary>
    public TimeSpan? BusyPoll { get; init; }
    /// <summary>
    /// The interface commands must arrive on (the appliance: ppn0, so only what came through the WireGuard tunnel).
    /// Every socket is bound to its index (SO_BINDTOIFINDEX): the bound address alone would also take a datagram an
    /// underlay neighbour routes to the mesh address (Linux's weak host model). Null: any interface (tests on loopback).
    /// </summary>
    public string? Interface { get; init; }

    public const int MaxReceivers = 4;

    /// <summary>The receiver count <see cref="Receivers"/> resolves to on a machine with <paramref name="cores"/> cores.</summary>
    public int ResolveReceivers(int cores) => Receivers > 0 ? Math.Min(Receivers, 64) : Math.Clamp(cores, 1, MaxReceivers);
}

/// <summary>A rate-limited account of rejected datagrams since the previous summary.</summary>
public readonly record struct RejectSummary(long RejectedSinceLast, long IntervalNanoseconds, CommandVerdict LastVerdict, CommandSource LastSource)
{
    /// <summary>Datagrams the kernel dropped at this receiver's socket in the same interval (SO_RXQ_OVFL): prefilter refusals and receive-queue overflows.</summary>
    public long KernelDropsSinceLast { get; init; }
}

/// <summary>Where the listener reports; implementations format (and allocate) only per summary, never per datagram.</summary>
public interface ICommandLog
{
    void RejectSummary(in RejectSummary summary);
    void ListenerFailed(Exception error);
}

/// <summary>
/// UDP command intake: receive threads (one per core, in an SO_REUSEPORT group) drain their sockets with batched
/// recvmmsg(2) and verify every datagram in place (no allocation per datagram); accepted commands go through a
/// bounded channel to one executor thread, so a slow intent (a reboot, an ethtool call) never stalls verification.
/// An in-kernel classic-BPF prefilter drops wrong length, version and target before they take queue room; the
/// kernel's drop count (prefilter refusals and queue overflows) arrives with each datagram (SO_RXQ_OVFL) and is
/// <see cref="KernelDrops"/>. Every socket is shut for writing right after bind: the node never sends on 8090
/// (the diode rule), and the kernel enforces it (sendto → EPIPE).
/// </summary>
public sealed unsafe class CommandListener : IDisposable
{
    internal const int SlotBytes = 32; // larger than a command, so oversize datagrams show as MSG_TRUNC/wrong length
    internal const int NameBytes = SockaddrCodec.MaxLength;
    /// <summary>
    /// After a full batch (a flood, or a burst), how long the receiver keeps retrying an empty queue before it sleeps
    /// in poll(2). A receiver that drains faster than datagrams arrive would otherwise sleep and be woken for every few
    /// of them, and each wake-up costs the CPU that queues the datagrams (the NIC's softirq; on loopback the sender's)
    /// more than the datagrams themselves: make bench's paced forgery flood could not be offered at the receiver's
    /// capacity until this was added (docs/performance.md). With the default batch of 64, commands that arrive one by
    /// one never fill a batch and never spin. The window starts when the full batch has been handled; each window that
    /// passes with nothing halves the next (down to an eighth), and one that catches more restores it, so bursts spaced
    /// just beyond the window cost at most an eighth of it each, not all of it.
    /// </summary>
    public static readonly TimeSpan DefaultBusyPoll = TimeSpan.FromMicroseconds(50);
    private readonly long _busyPollNanoseconds;
    /// <summary>
    /// One SO_RXQ_OVFL message, given to the first datagram of each recvmmsg(2) batch only. Once a socket has dropped
    /// anything, the kernel attaches its drop count to every datagram queued after that, for the socket's life, and
    /// copying it out cost about 55 ns a datagram more (docs/performance.md). The count only grows and the queue is
    /// in order, so the first datagram's count is the batch's, at most the rest of the batch behind; the kernel
    /// marks the others MSG_CTRUNC and copies nothing. <see cref="KernelDrops"/> asks the socket as well.
    /// </summary>
    internal static readonly int ControlBytes = LibC.CmsgSpace(sizeof(uint));

    private readonly CommandListenerOptions _options;
    private readonly CommandVerifier _verifier;
    private readonly CommandDispatcher _dispatcher;
    private readonly CommandJournal _journal;
    private readonly ICommandLog? _log;
    private readonly Receiver[] _receivers;
    private readonly SafeFd _wake;
    private readonly Channel<AcceptedCommand> _queue;
    private readonly Thread _executorThread;
    private readonly int _batch;
    private long _queueFull;
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
        var busyPoll = options.BusyPoll ?? (Environment.ProcessorCount > 1 ? DefaultBusyPoll : TimeSpan.Zero);
        _busyPollNanoseconds = (long)Math.Max(0, busyPoll.TotalNanoseconds);
        int count = options.ResolveReceivers(Environment.ProcessorCount);
        var filter = options.KernelPrefilter ? CommandPrefilter.Program(verifier.Addressing) : null;
        if (options.Interface is { } device)
        {
            InterfaceIndex = (int)LibC.if_nametoindex(device);
            if (InterfaceIndex == 0)
            {
                throw new SyscallException("if_nametoindex", device, Marshal.GetLastPInvokeError(), "the mesh interface must exist before the command listener starts");
            }
        }
        _receivers = new Receiver[count];
        try
        {
            int wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
            SyscallException.ThrowIfFailed(wake, "eventfd", "command listener wake-up");
            _wake = new SafeFd(wake);
            int port = options.Port;
            for (int i = 0; i < count; i++)
            {
                // The first socket may take an ephemeral port (tests); the rest of the group joins that port.
                var socket = OpenSocket(options, port, reusePort: count > 1, filter, InterfaceIndex, out var local, out var rcvbuf);
                _receivers[i] = new Receiver(this, i, socket, _batch);
                if (i == 0)
                {
                    LocalEndPoint = local;
                    ReceiveBufferBytes = rcvbuf;
                    port = local.Port;
                }
            }
        }
        catch
        {
            foreach (var r in _receivers) r?.Dispose();
            _wake?.Dispose();
            throw;
        }
        _queue = Channel.CreateBounded<AcceptedCommand>(new BoundedChannelOptions(Math.Max(1, options.ExecutorQueueCapacity))
        {
            SingleReader = true,
            SingleWriter = count == 1,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping silently
        });
        _executorThread = new Thread(ExecutorLoop) { IsBackground = true, Name = "ppn-cmd-exec" };
        _running = count;
    }

    /// <summary>Binds, then starts the receive and executor threads.</summary>
    public static CommandListener Start(CommandListenerOptions options, CommandVerifier verifier, CommandDispatcher dispatcher,
        CommandJournal journal, ICommandLog? log = null)
    {
        var listener = new CommandListener(options, verifier, dispatcher, journal, log);
        listener._executorThread.Start();
        foreach (var r in listener._receivers) r.Start();
        return listener;
    }

    public IPEndPoint LocalEndPoint { get; } = null!;
    /// <summary>The index of <see cref="CommandListenerOptions.Interface"/> the sockets are bound to; 0 without one.</summary>
    public int InterfaceIndex { get; }
    /// <summary>
    /// True when <see cref="CommandListenerOptions.Interface"/> no longer has the index the sockets are bound to (it was
    /// deleted, or deleted and created again): the listener hears nothing more and must be started again. Resolved in
    /// the calling thread's network namespace, which must be the one the listener was started in.
    /// </summary>
    public bool InterfaceReplaced => _options.Interface is { } device && LibC.if_nametoindex(device) != (uint)InterfaceIndex;
    /// <summary>The receive buffer the kernel granted each socket (getsockopt SO_RCVBUF, which reports twice the request).</summary>
    public int ReceiveBufferBytes { get; }
    /// <summary>How many receive sockets (and threads) share the port.</summary>
    public int Receivers => _receivers.Length;
    /// <summary>Whether the in-kernel prefilter is attached to every receive socket.</summary>
    public bool KernelPrefilter => _options.KernelPrefilter;
    public long DatagramsReceived
    {
        get
        {
            long sum = 0;
            foreach (var r in _receivers) sum += Interlocked.Read(ref r.Datagrams);
            return sum;
        }
    }
    /// <summary>recvmmsg(2) calls by all receivers, the empty retries after a full batch included.</summary>
    public long ReceiveCalls
    {
        get
        {
            long sum = 0;
            foreach (var r in _receivers) sum += Interlocked.Read(ref r.Calls);
            return sum;
        }
    }
    /// <summary>
    /// Datagrams the kernel dropped at the 8090 sockets before ppn read them, summed over the receivers: refused
    /// by the in-kernel prefilter (wrong length, version or target) or lost to a full receive queue. The kernel keeps
    /// one count for both (sk_drops). It reaches the receive loop with the first datagram of each batch read (SO_RXQ_OVFL); reading this
    /// property also asks each socket for its count now (SO_MEMINFO), so drops after a socket's last datagram show too.
    /// </summary>
    public long KernelDrops
    {
        get
        {
            long sum = 0;
            foreach (var r in _receivers) sum += r.CurrentKernelDrops();
            return sum;
        }
    }
    /// <summary>The drop counts the batches' first datagrams carried (SO_RXQ_OVFL) alone, summed; the tests tell the two sources apart.</summary>
    internal long KernelDropsFromControlMessages
    {
        get
        {
            long sum = 0;
            foreach (var r in _receivers) sum += Volatile.Read(ref r.KernelDropsSeen);
            return sum;
        }
    }
    /// <summary>Datagrams each receiver has read (index = receiver), for the SO_REUSEPORT spread.</summary>
    public long[] DatagramsPerReceiver() => [.. _receivers.Select(r => Interlocked.Read(ref r.Datagrams))];
    public long QueueFull => Interlocked.Read(ref _queueFull);
    /// <summary>Test hook: <see cref="Dispose"/> has begun.</summary>
    internal bool Disposing => Volatile.Read(ref _disposed) != 0;
    public VerdictCounters Counters => _verifier.Counters;
    /// <summary>The first receive loop failure; the others keep running, and the node's lifecycle restarts the service.</summary>
    public Exception? Failure { get; private set; }

    private static SafeFd OpenSocket(CommandListenerOptions options, int port, bool reusePort, LibC.sock_filter[]? filter,
        int interfaceIndex, out IPEndPoint local, out int granted)
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
            int on = 1;
            SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RXQ_OVFL, &on, sizeof(int)), "setsockopt", "SO_RXQ_OVFL");
            if (reusePort)
            {
                SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_REUSEPORT, &on, sizeof(int)), "setsockopt", "SO_REUSEPORT");
            }
            if (interfaceIndex != 0)
            {
                // Before bind, like the filter: no datagram from another interface is ever queued.
                SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_BINDTOIFINDEX, &interfaceIndex, sizeof(int)),
                    "setsockopt(SO_BINDTOIFINDEX)", options.Interface, "binding to an interface needs root (CAP_NET_RAW)");
            }
            if (filter is not null)
            {
                // Attached before bind, so no datagram is ever queued unfiltered.
                fixed (LibC.sock_filter* f = filter)
                {
                    var program = new LibC.sock_fprog { len = (ushort)filter.Length, filter = f };
                    SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_ATTACH_FILTER, &program, (uint)sizeof(LibC.sock_fprog)),
                        "setsockopt(SO_ATTACH_FILTER)", "command prefilter");
                }
            }

            byte* name = stackalloc byte[NameBytes];
            new Span<byte>(name, NameBytes).Clear();
            if (v6)
            {
                int v6only = 1;
                LibC.setsockopt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, &v6only, sizeof(int));
            }
            uint nameLength = (uint)SockaddrCodec.Write(new IPEndPoint(options.BindAddress, port), new Span<byte>(name, NameBytes));
            var where = $"{options.BindAddress} port {port}";
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

    /// <summary>
    /// The SO_RXQ_OVFL value in one received message's control data, or -1 when it carries none (the kernel attaches
    /// it only once the socket's drop count is non-zero).
    /// </summary>
    internal static long ReadDropCount(in LibC.msghdr header)
    {
        byte* control = (byte*)header.msg_control;
        long length = (long)header.msg_controllen;
        int offset = 0;
        while (offset + sizeof(LibC.cmsghdr) <= length)
        {
            var cmsg = (LibC.cmsghdr*)(control + offset);
            int cmsgLength = (int)cmsg->cmsg_len;
            if (cmsgLength < sizeof(LibC.cmsghdr) || offset + cmsgLength > length) break;
            if (cmsg->cmsg_level == LibC.SOL_SOCKET && cmsg->cmsg_type == LibC.SO_RXQ_OVFL && cmsgLength >= LibC.CmsgLen(sizeof(uint)))
            {
                return *(uint*)(control + offset + LibC.CmsgAlign(sizeof(LibC.cmsghdr)));
            }
            offset += LibC.CmsgAlign(cmsgLength);
        }
        return -1;
    }

    /// <summary>One socket of the group, its ring of recvmmsg slots and its thread.</summary>
    private sealed class Receiver : IDisposable
    {
        private readonly CommandListener _owner;
        private readonly Thread _thread;
        private readonly int _batch;
        public readonly SafeFd Socket;
        public long Datagrams;
        public long Calls;
        public long KernelDropsSeen;
        private byte* _buffers;
        private byte* _names;
        private byte* _controls;
        private LibC.iovec* _iovecs;
        private LibC.mmsghdr* _messages;
        private readonly CommandJournalEntry[] _rejects;

        public Receiver(CommandListener owner, int index, SafeFd socket, int batch)
        {
            _owner = owner;
            Socket = socket;
            _batch = batch;
            _buffers = (byte*)NativeMemory.AllocZeroed((nuint)(batch * SlotBytes));
            _names = (byte*)NativeMemory.AllocZeroed((nuint)(batch * NameBytes));
            _controls = (byte*)NativeMemory.AllocZeroed((nuint)ControlBytes);
            _iovecs = (LibC.iovec*)NativeMemory.AllocZeroed((nuint)(batch * sizeof(LibC.iovec)));
            _messages = (LibC.mmsghdr*)NativeMemory.AllocZeroed((nuint)(batch * sizeof(LibC.mmsghdr)));
            _rejects = new CommandJournalEntry[batch];
            for (int i = 0; i < batch; i++)
            {
                _iovecs[i].iov_base = _buffers + i * SlotBytes;
                _iovecs[i].iov_len = SlotBytes;
                _messages[i].msg_hdr.msg_iov = &_iovecs[i];
                _messages[i].msg_hdr.msg_iovlen = 1;
                _messages[i].msg_hdr.msg_name = _names + i * NameBytes;
            }
            _messages[0].msg_hdr.msg_control = _controls; // the batch's one control buffer (ControlBytes)
            _thread = new Thread(Loop) { IsBackground = true, Name = $"ppn-cmd-rx{index}" };
        }

        public void Start() => _thread.Start();

        /// <summary>The larger of the count the last batch's first datagram carried and the socket's count now (0 .. 2^32-1, sk_drops is a u32 on the wire).</summary>
        public long CurrentKernelDrops()
        {
            long seen = Volatile.Read(ref KernelDropsSeen);
            bool added = false;
            try
            {
                Socket.DangerousAddRef(ref added);
                uint* info = stackalloc uint[LibC.SK_MEMINFO_VARS];
                uint length = sizeof(uint) * LibC.SK_MEMINFO_VARS;
                if (LibC.getsockopt(Socket.Fd, LibC.SOL_SOCKET, LibC.SO_MEMINFO, info, &length) == 0 &&
                    length >= sizeof(uint) * (LibC.SK_MEMINFO_DROPS + 1))
                {
                    return Math.Max(seen, info[LibC.SK_MEMINFO_DROPS]);
                }
                return seen;
            }
            catch (ObjectDisposedException)
            {
                return seen; // the listener was disposed: the last count it saw
            }
            finally
            {
                if (added) Socket.DangerousRelease();
            }
        }

        /// <summary>False when the thread still runs after <paramref name="timeout"/>.</summary>
        public bool Join(TimeSpan timeout) =>
            _thread.ThreadState == System.Threading.ThreadState.Unstarted || _thread.Join(timeout);

        private void Loop()
        {
            var owner = _owner;
            try
            {
                var fds = stackalloc LibC.pollfd[2];
                fds[0] = new LibC.pollfd { fd = Socket.Fd, events = LibC.POLLIN };
                fds[1] = new LibC.pollfd { fd = owner._wake.Fd, events = LibC.POLLIN };
                long summaryInterval = (long)(owner._options.RejectSummaryInterval.TotalSeconds * 1_000_000_000);
                long lastSummary = MonotonicNanoseconds();
                long rejectsSinceSummary = 0;
                long dropsAtSummary = 0;
                var lastVerdict = CommandVerdict.Accepted;
                CommandSource lastSource = default;
                void FlushSummary(long now)
                {
                    long drops = KernelDropsSeen;
                    owner._log?.RejectSummary(new RejectSummary(rejectsSinceSummary, now - lastSummary, lastVerdict, lastSource)
                    {
                        KernelDropsSinceLast = drops - dropsAtSummary,
                    });
                    rejectsSinceSummary = 0;
                    dropsAtSummary = drops;
                    lastSummary = now;
                }
                bool Pending() => rejectsSinceSummary > 0 || KernelDropsSeen != dropsAtSummary;
                long fullWindow = owner._busyPollNanoseconds, window = fullWindow;
                bool retried = false; // the last call found the queue empty inside the busy window
                while (true)
                {
                    fds[0].revents = 0;
                    fds[1].revents = 0;
                    // Rejects waiting for their summary bound the wait: a lone reject is reported within one interval,
                    // not only when another datagram happens to arrive later.
                    int timeoutMs = -1;
                    if (Pending())
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
                        if (Pending()) FlushSummary(MonotonicNanoseconds());
                        return;
                    }
                    if (ready == 0)
                    {
                        long now = MonotonicNanoseconds();
                        if (Pending() && now - lastSummary >= summaryInterval) FlushSummary(now);
                        continue;
                    }

                    long busyUntil = 0;
                    while (true)
                    {
                        for (int i = 0; i < _batch; i++)
                        {
                            _messages[i].msg_hdr.msg_namelen = NameBytes;
                            _messages[i].msg_hdr.msg_flags = 0;
                            _messages[i].msg_len = 0;
                        }
                        _messages[0].msg_hdr.msg_controllen = (nuint)ControlBytes;
                        int n = LibC.recvmmsg(Socket.Fd, _messages, (uint)_batch, LibC.MSG_DONTWAIT, null);
                        Interlocked.Increment(ref Calls);
                        if (n < 0)
                        {
                            int errno = Marshal.GetLastPInvokeError();
                            if (errno == (int)Errno.EINTR) continue;
                            if (errno == (int)Errno.EAGAIN)
                            {
                                if (MonotonicNanoseconds() < busyUntil && Volatile.Read(ref owner._disposed) == 0)
                                {
                                    retried = true;
                                    Thread.SpinWait(16);
                                    continue;
                                }
                                // A window that passed with nothing: spend less on the next one.
                                if (retried) window = Math.Max(fullWindow / 8, window / 2);
                                retried = false;
                                break;
                            }
                            throw new SyscallException("recvmmsg", $"command socket {owner.LocalEndPoint}", errno);
                        }
                        if (retried)
                        {
                            window = fullWindow; // the spin caught more before its window ended: worth it
                            retried = false;
                        }
                        Interlocked.Add(ref Datagrams, n);
                        long now = MonotonicNanoseconds();
                        int rejects = 0; // this batch's rejects go to the journal under one lock, after the batch
                        if (_messages[0].msg_hdr.msg_controllen != 0)
                        {
                            long drops = ReadDropCount(_messages[0].msg_hdr);
                            if (drops > KernelDropsSeen) Volatile.Write(ref KernelDropsSeen, drops);
                        }
                        for (int i = 0; i < n; i++)
                        {
                            ref var message = ref _messages[i];
                            int length = (int)message.msg_len;
                            if ((message.msg_hdr.msg_flags & LibC.MSG_TRUNC) != 0) length = SlotBytes;
                            var datagram = new ReadOnlySpan<byte>(_buffers + i * SlotBytes, Math.Min(length, SlotBytes));
                            var source = ToSource(_names + i * NameBytes);
                            var verdict = owner._verifier.Verify(datagram, out var packet, out var sequence);
                            if (verdict == CommandVerdict.Accepted)
                            {
                                if (!owner._queue.Writer.TryWrite(new AcceptedCommand(packet, sequence, source, now)))
                                {
                                    Interlocked.Increment(ref owner._queueFull);
                                    owner._journal.Record(new CommandJournalEntry(now, verdict, DispatchOutcome.QueueFull,
                                        packet.IntentCode, packet.Argument, packet.Target, packet.Counter, packet.Epoch, source));
                                }
                            }
                            else
                            {
                                _rejects[rejects++] = new CommandJournalEntry(now, verdict, DispatchOutcome.None,
                                    packet.IntentCode, packet.Argument, packet.Target, packet.Counter, packet.Epoch, source);
                                rejectsSinceSummary++;
                                lastVerdict = verdict;
                                lastSource = source;
                            }
                        }
                        owner._journal.RecordRejected(_rejects.AsSpan(0, rejects));
                        if (Pending() && now - lastSummary >= summaryInterval) FlushSummary(now);
                        if (n == _batch) busyUntil = window > 0 ? MonotonicNanoseconds() + window : 0;
                        else if (busyUntil == 0 || now >= busyUntil) break;
                        // A flood keeps every batch full, so this loop would not get back to poll(2) and its wake-up:
                        // Dispose would time out and free the buffers recvmmsg still writes into.
                        if (Volatile.Read(ref owner._disposed) != 0)
                        {
                            if (Pending()) FlushSummary(MonotonicNanoseconds());
                            return;
                        }
                    }
                }
            }
            catch (Exception e)
            {
                lock (owner._receivers)
                {
                    owner.Failure ??= e;
                }
                owner._log?.ListenerFailed(e);
            }
            finally
            {
                if (Interlocked.Decrement(ref owner._running) == 0) owner._queue.Writer.TryComplete();
            }
        }

        public void Dispose()
        {
            Socket.Dispose();
            NativeMemory.Free(_buffers);
            NativeMemory.Free(_names);
            NativeMemory.Free(_controls);
            NativeMemory.Free(_iovecs);
            NativeMemory.Free(_messages);
            _buffers = _names = _controls = null;
            _iovecs = null;
            _messages = null;
        }
    }

    private int _running;

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

    /// <summary>Test hook for the diode: tries one sendto(2) on each listening socket and returns the first errno that is not EPIPE, or EPIPE (0 = one sent).</summary>
    internal int TrySendOnListeningSocket(IPEndPoint destination)
    {
        byte* name = stackalloc byte[NameBytes];
        new Span<byte>(name, NameBytes).Clear();
        uint len = (uint)SockaddrCodec.Write(destination, new Span<byte>(name, NameBytes));
        int result = (int)Errno.EPIPE;
        foreach (var r in _receivers)
        {
            byte probe = 0;
            nint n = LibC.sendto(r.Socket.Fd, &probe, 1, LibC.MSG_DONTWAIT, name, len);
            int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (errno != (int)Errno.EPIPE) return errno;
        }
        return result;
    }

    /// <summary>Test hook: whether every receive queue is empty (SIOCINQ: the next datagram's size, 0 when none is queued).</summary>
    internal bool ReceiveQueuesEmpty()
    {
        const nuint SIOCINQ = 0x541B; // FIONREAD (asm-generic/ioctls.h)
        foreach (var r in _receivers)
        {
            int next = 0;
            SyscallException.ThrowIfFailed(LibC.ioctl(r.Socket.Fd, SIOCINQ, &next), "ioctl(SIOCINQ)", "command socket");
            if (next != 0) return false;
        }
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ulong one = 1;
        LibC.write(_wake.Fd, (byte*)&one, sizeof(ulong));
        var ended = new bool[_receivers.Length];
        bool allEnded = true;
        for (int i = 0; i < _receivers.Length; i++)
        {
            ended[i] = _receivers[i].Join(TimeSpan.FromSeconds(10));
            allEnded &= ended[i];
        }
        _queue.Writer.TryComplete();
        _executorThread.Join(TimeSpan.FromSeconds(10));
        for (int i = 0; i < _receivers.Length; i++)
        {
            // A receiver that has not ended may still be inside recvmmsg on its socket and buffers: freeing them under
            // it would corrupt PID 1's heap. Its socket and buffers are left to it (a leak, not a crash).
            if (ended[i]) _receivers[i].Dispose();
        }
        if (allEnded) _wake.Dispose();
        ReceiversEnded = allEnded;
    }

    /// <summary>
    /// After <see cref="Dispose"/>: whether every receive thread ended. When one did not, it may still verify with the
    /// verifier's keyring, so its owner must not zero the keys under it (a zeroed key makes every tag a public function
    /// of the header).
    /// </summary>
    public bool ReceiversEnded { get; private set; }
}
