using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Ppn.Linux;
using Ppn.Linux.Interop;

namespace Ppn.Genesis.Beacon;

/// <summary>
/// The blind-boot beacon scan: an AF_PACKET raw socket on every interface with a classic BPF filter that
/// passes only UDP to port 8090 (IPv4 unfragmented, or IPv6 without extension headers), so the node hears
/// beacons with no IPv4 address, no DHCP and no DNS, as DHCP clients do. The filter is attached before the
/// socket is bound, so nothing unfiltered is ever queued. Every beacon is verified against the pinned keys;
/// rogue ones are counted and ignored.
/// </summary>
public sealed class PacketBeaconScanner : IBeaconScanner
{
    private readonly BeaconVerifier _verifier;
    private readonly TimeSpan _beaconPeriod;
    private readonly Action<string> _log;
    private readonly ushort _port;

    public PacketBeaconScanner(AuthorityTrust trust, TimeSpan beaconPeriod, Action<string> log, ushort port = BeaconPacket.Port)
    {
        _verifier = new BeaconVerifier(trust);
        _beaconPeriod = beaconPeriod;
        _log = log;
        _port = port;
    }

    public BeaconVerifier Verifier => _verifier;

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
        SafeFd socket;
        try
        {
            socket = Open(_port);
        }
        catch (SyscallException e)
        {
            _log($"beacon scan impossible: {e.Message}");
            return null;
        }
        using (socket)
        {
            _log($"scanning for an authority beacon on UDP {_port} for {window.TotalSeconds:0.#} s (beacon period {_beaconPeriod.TotalSeconds:0.#} s)");
            var found = Receive(socket, window, cancellation);
            if (_verifier.Rogue > 0 || _verifier.Malformed > 0)
            {
                _log($"beacon scan ignored {_verifier.BadSignature} badly signed, {_verifier.UnknownAuthorityKey} unknown-key and {_verifier.Malformed} malformed beacons");
            }
            return found;
        }
    }

    private unsafe VerifiedBeacon? Receive(SafeFd socket, TimeSpan window, CancellationToken cancellation)
    {
        var frame = new byte[2048];
        var clock = Stopwatch.StartNew();
        while (!cancellation.IsCancellationRequested)
        {
            var left = window - clock.Elapsed;
            if (left <= TimeSpan.Zero) return null;
            // Poll in slices so cancellation is noticed within 200 ms.
            int slice = (int)Math.Min(200, Math.Ceiling(left.TotalMilliseconds));
            var pfd = new LibC.pollfd { fd = socket.Fd, events = LibC.POLLIN };
            int ready = LibC.poll(&pfd, 1, slice);
            if (ready < 0)
            {
                if (Marshal.GetLastPInvokeError() == 4) continue; // EINTR
                SyscallException.ThrowIfFailed(ready, "poll", "AF_PACKET");
            }
            if (ready == 0) continue;
            var from = default(LibC.sockaddr_ll);
            uint fromLength = (uint)sizeof(LibC.sockaddr_ll);
            nint n;
            fixed (byte* b = frame)
            {
                n = LibC.recvfrom(socket.Fd, b, (nuint)frame.Length, LibC.MSG_DONTWAIT, &from, &fromLength);
            }
            if (n <= 0) continue;
            if (from.sll_pkttype == LibC.PACKET_OUTGOING) continue;
            if (!LinkFrame.TryGetUdpPayload(frame.AsSpan(0, (int)n), _port, out int at, out int length)) continue;
            if (_verifier.Verify(frame.AsSpan(at, length), from.sll_ifindex, out var beacon) == BeaconVerdict.Accepted)
            {
                _log($"authority beacon #{beacon!.Sequence} verified on interface {from.sll_ifindex}: registrar [{beacon.Registrar.Address}]:{beacon.Registrar.Port}");
                return beacon;
            }
        }
        return null;
    }
}
