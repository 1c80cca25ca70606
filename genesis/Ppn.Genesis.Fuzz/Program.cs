using System.Net;
using Ppn.Genesis;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Join;
using Ppn.FuzzSupport;

// The first byte picks the target, the rest
// is the input; invariants beyond "never throws": what parses re-serialises to the same bytes, and an accepted
// beacon or a grant bound to the node really carries a pinned key's signature.
// The entry point (afl persistent mode, or --once FILE... outside afl) is testing/Ppn.FuzzSupport's.
FuzzEntry.Run(args, 2048, () => new Harness().Check);

internal sealed class Harness
{
    private readonly AuthorityTrust trust;
    private readonly BeaconVerifier verifier;
    private readonly byte[] node = Enumerable.Repeat((byte)0x42, 32).ToArray();

    public Harness()
    {
        // The keys of docs/protocol/vectors/genesis-*.json, so the corpus' valid inputs verify.
        using var authority = AuthorityCredential.Create(Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray(), Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray(),
            new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 0);
        trust = authority.Trust;
        verifier = new BeaconVerifier(trust);
    }

    public void Check(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var data = input[1..];
        switch (input[0] % 6)
        {
            case 0: Frame(data); break;
            case 1: Beacon(data); break;
            case 2: Grant(data); break;
            case 3: Messages(data); break;
            case 4: Record(data); break;
            default: Banner(data); break;
        }
    }

    private void Frame(ReadOnlySpan<byte> frame)
    {
        if (LinkFrame.TryGetUdpPayload(frame, BeaconPacket.Port, out int at, out int length))
        {
            if (at < 0 || length < 0 || at + length > frame.Length) throw new InvalidOperationException("payload outside the frame");
            Beacon(frame.Slice(at, length));
        }
    }

    private void Beacon(ReadOnlySpan<byte> datagram)
    {
        bool parsed = BeaconPacket.TryParse(datagram, out var beacon);
        if (parsed)
        {
            Span<byte> again = stackalloc byte[BeaconPacket.SignedSize];
            beacon.WriteBody(again);
            if (!again.SequenceEqual(datagram[..BeaconPacket.SignedSize])) throw new InvalidOperationException("WriteBody(TryParse(x)) != x");
        }
        var verdict = verifier.Verify(datagram, 1, out var verified);
        if (verdict == BeaconVerdict.Accepted && (!parsed || verified is null || !trust.IsPinnedNoiseKey(verified.AuthorityNoiseKey)))
        {
            throw new InvalidOperationException("accepted a beacon that does not parse or names an unpinned key");
        }
        if (verdict != BeaconVerdict.Malformed && !parsed) throw new InvalidOperationException("verifier and parser disagree");
    }

    private void Grant(ReadOnlySpan<byte> bytes)
    {
        if (!EnrolmentGrant.TryParse(bytes, out var grant, out var error))
        {
            if (string.IsNullOrEmpty(error)) throw new InvalidOperationException("a refused grant without a reason");
            return;
        }
        var again = new byte[EnrolmentGrant.Size];
        grant!.WriteTo(again);
        if (!again.AsSpan().SequenceEqual(bytes)) throw new InvalidOperationException("WriteTo(TryParse(x)) != x");
        _ = grant.IsBoundTo(node, trust);
        _ = grant.IsBoundTo(grant.NodePublicKey, trust);
    }

    private static void Messages(ReadOnlySpan<byte> bytes)
    {
        if (GenesisWire.TryParseRequest(bytes, out var kind, out var sequence))
        {
            Span<byte> again = stackalloc byte[GenesisWire.RequestSize];
            GenesisWire.WriteRequest(again, kind, sequence);
            if (!again.SequenceEqual(bytes)) throw new InvalidOperationException("request does not round-trip");
        }
        if (GenesisWire.TryParseAck(bytes, out var status))
        {
            Span<byte> again = stackalloc byte[GenesisWire.AckSize];
            GenesisWire.WriteAck(again, status);
            if (!again.SequenceEqual(bytes)) throw new InvalidOperationException("ack does not round-trip");
        }
        if (GenesisWire.TryParseClaimHello(bytes, out var key, out var nonce) && (key.Length != 32 || nonce.Length != GenesisWire.ClaimHelloNonceSize)) throw new InvalidOperationException("hello fields are the wrong size");
        if (GenesisWire.TryParseClaimRefusal(bytes, out var reason))
        {
            Span<byte> again = stackalloc byte[GenesisWire.ClaimRefusalSize];
            GenesisWire.WriteClaimRefusal(again, reason);
            if (!again.SequenceEqual(bytes)) throw new InvalidOperationException("refusal does not round-trip");
        }
        GenesisWire.ClaimHelloTagMatches(bytes, new byte[32], new byte[32]);
    }

    private void Record(ReadOnlySpan<byte> bytes)
    {
        if (EnrolmentRecord.TryParse(bytes, out var grant, out var origin, out _))
        {
            if (!EnrolmentRecord.Encode(grant, origin).AsSpan().SequenceEqual(bytes)) throw new InvalidOperationException("record does not round-trip");
        }
    }

    private static void Banner(ReadOnlySpan<byte> bytes)
    {
        var line = System.Text.Encoding.ASCII.GetString(bytes);
        if (GenesisBanner.TryParse(line, out var key) && (key.Length != 32 || !line.StartsWith(GenesisBanner.Protocol + " ", StringComparison.Ordinal)))
        {
            throw new InvalidOperationException("a banner parsed that is not PPN-GENESIS/1 with a 32-byte key");
        }
        if (GenesisBanner.TryParseEnrolled(line, out var node, out var authority)
            && GenesisBanner.FormatEnrolled(node, authority).TrimEnd('\r', '\n') != line.TrimEnd('\n').TrimEnd('\r'))
        {
            throw new InvalidOperationException("an enrolled banner parsed that does not round-trip");
        }
    }
}
