using System.Buffers.Binary;
using System.Net;
using Ppn.Genesis.Beacon;

namespace Ppn.Genesis.Tests;

/// <summary>
/// A scripted link for the beacon scan: frames that "arrive" at given times on a virtual clock, which advances
/// only when the scan waits. Deterministic: no real time passes.
/// </summary>
internal sealed class ScriptedFrames : IBeaconFrames
{
    private readonly Queue<(TimeSpan At, byte[] Frame, int Interface)> _frames;

    public ScriptedFrames(IEnumerable<(TimeSpan At, byte[] Frame, int Interface)> frames) =>
        _frames = new(frames.OrderBy(f => f.At));

    public TimeSpan Now { get; private set; }
    public int Delivered { get; private set; }

    public int Receive(Span<byte> frame, TimeSpan timeout, out int interfaceIndex)
    {
        interfaceIndex = 0;
        if (_frames.TryPeek(out var next) && next.At <= Now + timeout)
        {
            _frames.Dequeue();
            if (next.At > Now) Now = next.At;
            next.Frame.CopyTo(frame);
            interfaceIndex = next.Interface;
            Delivered++;
            return next.Frame.Length;
        }
        Now += timeout;
        return 0;
    }

    public void Dispose()
    {
    }

    /// <summary>An Ethernet + IPv6 + UDP frame to port 8090 carrying <paramref name="payload"/>.</summary>
    public static byte[] Udp6(byte[] payload)
    {
        var f = new byte[14 + 40 + 8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), LinkFrame.EtherTypeIPv6);
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 4), (ushort)(8 + payload.Length));
        f[14 + 6] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 40 + 2), BeaconPacket.Port);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 40 + 4), (ushort)(8 + payload.Length));
        payload.CopyTo(f, 14 + 48);
        return f;
    }
}

public class BeaconChoiceTests
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly TestAuthority _authority = new();
    private static readonly IPAddress OldRegistrar = IPAddress.Parse("fe80::dead");
    private static readonly IPAddress Registrar = IPAddress.Parse("fe80::1");

    private (VerifiedBeacon? Found, ScriptedFrames Link, List<string> Log) Scan(TimeSpan window, params (double At, byte[] Beacon)[] beacons)
    {
        var link = new ScriptedFrames(beacons.Select(b => (TimeSpan.FromSeconds(b.At), ScriptedFrames.Udp6(b.Beacon), 2)));
        var log = new List<string>();
        var scanner = new PacketBeaconScanner(_authority.Trust, Period, log.Add, BeaconPacket.Port, () => link, () => link.Now);
        return (scanner.Scan(window, CancellationToken.None), link, log);
    }

    [Fact]
    public void A_replayed_stale_beacon_heard_first_loses_to_the_fresh_one_that_follows()
    {
        var stale = _authority.Beacon(OldRegistrar, 7000, 3);     // genuine, long ago, replayed by someone on the link
        var (found, _, log) = Scan(TimeSpan.FromSeconds(20),
            (0.1, stale), (0.2, stale), (0.9, _authority.Beacon(Registrar, 7443, 1041)), (1.0, stale), (1.9, _authority.Beacon(Registrar, 7443, 1042)));
        Assert.NotNull(found);
        Assert.Equal(1041UL, found!.Sequence); // the freshest heard within the collect window (1.5 periods after the first)
        Assert.Equal(7443, found.Registrar.Port);
        Assert.Contains(log, l => l.Contains("authority beacon #1041 chosen") && l.Contains("the freshest of 4 verified, 1 older than one heard before"));
    }

    [Fact]
    public void The_scan_stops_listening_a_bounded_while_after_the_first_beacon()
    {
        var (found, link, _) = Scan(TimeSpan.FromSeconds(20), (0.5, _authority.Beacon(Registrar, 7443, 7)), (5.0, _authority.Beacon(Registrar, 7443, 8)));
        Assert.Equal(7UL, found!.Sequence);
        Assert.Equal(1, link.Delivered);          // the beacon at 5 s was never read
        Assert.True(link.Now <= TimeSpan.FromSeconds(2.0 + 0.2), $"the scan listened until {link.Now}");
    }

    [Fact]
    public void The_collect_window_never_extends_the_scan_window()
    {
        var (found, link, _) = Scan(TimeSpan.FromSeconds(1), (0.9, _authority.Beacon(Registrar, 7443, 7)), (1.1, _authority.Beacon(Registrar, 7443, 8)));
        Assert.Equal(7UL, found!.Sequence);
        Assert.True(link.Now <= TimeSpan.FromSeconds(1.0 + 0.2));
    }

    [Fact]
    public void Rogue_beacons_are_never_chosen_and_nothing_is_returned_when_only_they_come()
    {
        var rogue = new TestAuthority();
        var (found, _, _) = Scan(TimeSpan.FromSeconds(3), (0.1, rogue.Beacon(Registrar, 7443, 99999)), (0.2, _authority.Beacon(Registrar, 7443, 99999, noiseKey: rogue.NoisePublic)));
        Assert.Null(found);
    }

    [Fact]
    public void The_collector_keeps_the_highest_sequence_per_authority_and_the_first_authority_heard()
    {
        var other = new TestAuthority();
        var c = new BeaconCollector();
        VerifiedBeacon B(TestAuthority a, ulong seq) => new(new IPEndPoint(Registrar, 1), a.NoisePublic, seq, 2);
        c.Offer(B(_authority, 5));
        c.Offer(B(other, 500));
        c.Offer(B(_authority, 4));
        c.Offer(B(_authority, 9));
        c.Offer(B(_authority, 9));
        Assert.Equal(9UL, c.Best!.Sequence);
        Assert.Equal(_authority.NoisePublic, c.Best.AuthorityNoiseKey);
        Assert.Equal((5, 1), (c.Heard, c.Stale));
    }
}
