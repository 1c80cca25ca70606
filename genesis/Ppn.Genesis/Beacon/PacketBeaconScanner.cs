using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Beacon;

/// <summary>Link-layer frames as the beacon scan reads them: AF_PACKET on a node, a scripted twin in tests.</summary>
public interface IBeaconFrames : IDisposable
{
    /// <summary>Waits at most <paramref name="timeout"/> for one frame; its length (0: none came) and the interface it arrived on.</summary>
    int Receive(Span<byte> frame, TimeSpan timeout, out int interfaceIndex);
}

/// <summary>
/// Keeps, per pinned authority key, the beacon with the highest sequence heard in one scan, so a replayed stale
/// genuine beacon (valid signature, old sequence, perhaps an old registrar) never wins over a fresher one.
/// Across keys the authority heard first is kept (sequences of different authorities do not compare).
/// </summary>
public sealed class BeaconCollector
{
    private readonly Dictionary<string, VerifiedBeacon> _freshest = new();
    private string? _first;

    public int Heard { get; private set; }
    public int Stale { get; private set; }

    public void Offer(VerifiedBeacon beacon)
    {
        Heard++;
        var key = Convert.ToBase64String(beacon.AuthorityNoiseKey);
        _first ??= key;
        if (_freshest.TryGetValue(key, out var best) && best.Sequence >= beacon.Sequence)
        {
            if (best.Sequence > beacon.Sequence) Stale++;
            return;
        }
        _freshest[key] = beacon;
    }

    /// <summary>The freshest beacon of the first authority heard; null before any.</summary>
    public VerifiedBeacon? Best => _first is null ? null : _freshest[_first];
}

/// <summary>
/// The blind-boot beacon scan: an AF_PACKET raw socket on every interface with a classic BPF filter that
/// passes only UDP to port 8090 (IPv4 unfragmented, or IPv6 without extension headers), so the node hears
/// beacons with no IPv4 address, no DHCP and no DNS, as DHCP clients do. The filter is attached before the
/// socket is bound, so nothing unfiltered is ever queued. Every beacon is verified against the pinned keys;
/// rogue ones are counted and ignored. After the first verified beacon the scan listens on for
/// <see cref="CollectWindow"/> (longer than a beacon period, bounded by the scan window) and returns the
/// freshest sequence heard (<see cref="BeaconCollector"/>).
/// </summary>
public sealed class PacketBeaconScanner : IBeaconScanner
{
    private readonly BeaconVerifier _verifier;
    private readonly TimeSpan _beaconPeriod;
    private readonly Action<string> _log;
    private readonly ushort _port;
    private readonly Func<IBeaconFrames> _open;
    private readonly Func<TimeSpan> _now;

    public PacketBeaconScanner(AuthorityTrust trust, TimeSpan beaconPeriod, Action<string> log, ushort port = BeaconPacket.Port)
        : this(trust, beaconPeriod, log, port, () => new PacketFrames(Open(port)), StartClock())
    {
    }

    private static Func<TimeSpan> StartClock()
    {
        var clock = Stopwatch.StartNew();
        return () => clock.Elapsed;
    }

    /// <param name="open">Opens the frame source for one scan (throws <see cref="SyscallException"/> when impossible).</param>
    /// <param name="now">A monotonic clock the scan's windows are measured on.</param>
    public PacketBeaconScanner(AuthorityTrust trust, TimeSpan beaconPeriod, Action<string> log, ushort port, Func<IBeaconFrames> open, Func<TimeSpan> now)
    {
        _verifier = new BeaconVerifier(trust);
        _beaconPeriod = beaconPeriod;
        _log = log;
        _port = port;
        _open = open;
        _now = now;
    }

    public BeaconVerifier Verifier => _verifier;

    /// <summary>How long the scan goes on listening after the first verified beacon: one and a half beacon periods, 0.2 to 5 s.</summary>
    public TimeSpan CollectWindow => TimeSpan.FromTicks(Math.Clamp(_beaconPeriod.Ticks * 3 / 2, TimeSpan.FromMilliseconds(200).Ticks, TimeSpan.FromSeconds(5).Ticks));

    /// <summary>Instruction list of the filter (linux/filter.h opcodes), for the test that checks it in the kernel.</summary>
    public static LibC.sock_filter[] Filter(ushort port) =>
    [
        new(0x28, 0, 0, 12),          // 0  ldh [12]                ethertype
        new(0x15, 0, 7, 0x0800),      // 1  jeq #IPv4 ? 2 : 9
        new(0x30, 0, 0, 23),          // 2  ldb [23]                IPv4 protocol
        new(0x15, 0, 11, 17),         // 3  jeq #UDP ? 4 : reject
        new(0x28, 0, 0, 20),          // 4  ldh [20]                flags + fragment offset
        new(0x45, 9, 0, 0x3fff),      // 5  jset MF|offset ? reject : 6
        new(0xb1, 0, 0, 14),          // 6  ldxb 4*([14]&0xf)       IPv4 header length
        new(0x48, 0, 0, 16),          // 7  ldh [x+16]              UDP destination port
        new(0x15, 5, 6, port),        // 8  jeq #port ? accept : reject
        new(0x15, 0, 5, 0x86dd),      // 9  jeq #IPv6 ? 10 : reject
        new(0x30, 0, 0, 20),          // 10 ldb [20]                IPv6 next header
        new(0x15, 0, 3, 17),          // 11 jeq #UDP ? 12 : reject
        new(0x28, 0, 0, 56),          // 12 ldh [56]                UDP destination port
        new(0x15, 0, 1, port),        // 13 jeq #port ? accept : reject
        new(0x06, 0, 0, 0x0000ffff),  // 14 accept: ret #65535
        new(0x06, 0, 0, 0),           // 15 reject: ret #0
    ];

    /// <summary>Opens the filtered socket (all interfaces when <paramref name="interfaceIndex"/> is 0).</summary>
    public static unsafe SafeFd Open(ushort port, int interfaceIndex = 0)
    {
        int fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        SyscallException.ThrowIfFailed(fd, "socket", "AF_PACKET", "the beacon scan needs CAP_NET_RAW (PID 1 has it)");
        var safe = new SafeFd(fd);
        try
        {
            var filter = Filter(port);
            fixed (LibC.sock_filter* f = filter)
            {
                var program = new LibC.sock_fprog { len = (ushort)filter.Length, filter = f };
                SyscallException.ThrowIfFailed(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_ATTACH_FILTER, &program, (uint)sizeof(LibC.sock_fprog)), "setsockopt(SO_ATTACH_FILTER)", "AF_PACKET");
            }
            var address = new LibC.sockaddr_ll
            {
                sll_family = LibC.AF_PACKET,
                sll_protocol = BinaryPrimitives.ReverseEndianness(LibC.ETH_P_ALL),
                sll_ifindex = interfaceIndex,
            };
            SyscallException.ThrowIfFailed(LibC.bind(fd, &address, (uint)sizeof(LibC.sockaddr_ll)), "bind", "AF_PACKET");
            return safe;
        }
        catch
        {
            safe.Dispose();
            throw;
        }
    }

    public VerifiedBeacon? Scan(TimeSpan window, CancellationToken cancellation)
    {
        IBeaconFrames frames;
        try
        {
            frames = _open();
        }
        catch (SyscallException e)
        {
            _log($"beacon scan impossible: {e.Message}");
            return null;
        }
        using (frames)
        {
            _log($"scanning for an authority beacon on UDP {_port} for {window.TotalSeconds:0.#} s (beacon period {_beaconPeriod.TotalSeconds:0.#} s)");
            var collector = new BeaconCollector();
            Receive(frames, collector, window, cancellation);
            if (_verifier.Rogue > 0 || _verifier.Malformed > 0)
            {
                _log($"beacon scan ignored {_verifier.BadSignature} badly signed, {_verifier.UnknownAuthorityKey} unknown-key and {_verifier.Malformed} malformed beacons");
            }
            if (collector.Best is { } best)
            {
                _log($"authority beacon #{best.Sequence} chosen (the freshest of {collector.Heard} verified{(collector.Stale > 0 ? $", {collector.Stale} older than one heard before: replays or delays" : "")}): registrar [{best.Registrar.Address}]:{best.Registrar.Port} on interface {best.InterfaceIndex}");
            }
            return collector.Best;
        }
    }

    private void Receive(IBeaconFrames frames, BeaconCollector collector, TimeSpan window, CancellationToken cancellation)
    {
        var frame = new byte[2048];
        var start = _now();
        var end = start + window;
        while (!cancellation.IsCancellationRequested)
        {
            var left = end - _now();
            if (left <= TimeSpan.Zero) return;
            // Slices of at most 200 ms so cancellation is noticed soon.
            int n = frames.Receive(frame, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200), out int interfaceIndex);
            if (n <= 0) continue;
            if (!LinkFrame.TryGetUdpPayload(frame.AsSpan(0, n), _port, out int at, out int length)) continue;
            if (_verifier.Verify(frame.AsSpan(at, length), interfaceIndex, out var beacon) != BeaconVerdict.Accepted) continue;
            if (collector.Best is null)
            {
                _log($"authority beacon #{beacon!.Sequence} verified on interface {interfaceIndex}: registrar [{beacon.Registrar.Address}]:{beacon.Registrar.Port}; listening {CollectWindow.TotalSeconds:0.#} s more for a fresher one");
                var collectEnd = _now() + CollectWindow;
                if (collectEnd < end) end = collectEnd;
            }
            collector.Offer(beacon!);
        }
    }
}

/// <summary>The AF_PACKET socket of <see cref="PacketBeaconScanner.Open"/> as a frame source (outgoing frames skipped).</summary>
public sealed unsafe class PacketFrames(SafeFd socket) : IBeaconFrames
{
    public int Receive(Span<byte> frame, TimeSpan timeout, out int interfaceIndex)
    {
        interfaceIndex = 0;
        var pfd = new LibC.pollfd { fd = socket.Fd, events = LibC.POLLIN };
        int ready = LibC.poll(&pfd, 1, (int)Math.Ceiling(timeout.TotalMilliseconds));
        if (ready < 0)
        {
            if (Marshal.GetLastPInvokeError() == 4) return 0; // EINTR
            SyscallException.ThrowIfFailed(ready, "poll", "AF_PACKET");
        }
        if (ready == 0) return 0;
        var from = default(LibC.sockaddr_ll);
        uint fromLength = (uint)sizeof(LibC.sockaddr_ll);
        nint n;
        fixed (byte* b = frame)
        {
            n = LibC.recvfrom(socket.Fd, b, (nuint)frame.Length, LibC.MSG_DONTWAIT, &from, &fromLength);
        }
        if (n <= 0 || from.sll_pkttype == LibC.PACKET_OUTGOING) return 0;
        interfaceIndex = from.sll_ifindex;
        return (int)n;
    }

    public void Dispose() => socket.Dispose();
}
