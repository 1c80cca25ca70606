using System.Buffers.Binary;
using System.Net;
using Ppn.Genesis;
using Ppn.Mesh.Sync;
using Ppn.FuzzSupport;

// The first byte picks the target, the rest is
// the input; invariants beyond "never throws": what parses re-serialises to the same bytes, what verifies parses, and
// an accepted relay roster is exactly what the codec writes for it.
// The entry point (afl persistent mode, or --once FILE... outside afl) is testing/Ppn.FuzzSupport's.
FuzzEntry.Run(args, 1 + PeerSet.MaxSize /* a whole peer set (≤ 168 548 bytes) with the selector byte */, () => new Harness().Check);

internal sealed class Harness
{
    private readonly AuthorityTrust trust;
    // The hub of docs/protocol/vectors/mesh-sync.json and relay-roster.json, so the corpus' valid inputs verify.
    private readonly byte[] hub = Enumerable.Range(0xa0, 32).Select(i => (byte)i).ToArray();

    public Harness()
    {
        using var authority = AuthorityCredential.Create(Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray(), Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray(),
            new IPEndPoint(IPAddress.Loopback, 1), hub, 0);
        trust = authority.Trust;
    }

    public void Check(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var data = input[1..];
        switch (input[0] % 4)
        {
            case 0: Set(data); break;
            case 1: Wire(data); break;
            case 2: Roster(data); break;
            default: Chunk(data); break;
        }
    }

    private void Set(ReadOnlySpan<byte> document)
    {
        bool parsed = PeerSet.TryParse(document, out var set, out var error);
        if (parsed && !set!.Bytes.AsSpan().SequenceEqual(document)) throw new InvalidOperationException("TryParse kept other bytes than it was given");
        if (!parsed && string.IsNullOrEmpty(error)) throw new InvalidOperationException("a refused set without a reason");
        var verdict = PeerSet.Verify(document, trust, hub, out var verified, out var detail);
        if (string.IsNullOrEmpty(detail)) throw new InvalidOperationException("a verdict without a detail");
        if (verdict == SetVerdict.Malformed && parsed) throw new InvalidOperationException("Verify calls a set malformed that TryParse accepts");
        if (verdict != SetVerdict.Malformed && !parsed) throw new InvalidOperationException("Verify got past the layout of a set TryParse refuses");
        if (verdict == SetVerdict.Accepted && (verified is null || !verified.HubPublicKey.AsSpan().SequenceEqual(hub))) throw new InvalidOperationException("accepted a set for another hub");
    }

    private static void Wire(ReadOnlySpan<byte> bytes)
    {
        if (SyncWire.TryParseRequest(bytes, out var since))
        {
            Span<byte> again = stackalloc byte[SyncWire.RequestSize];
            SyncWire.WriteRequest(again, since);
            if (!again.SequenceEqual(bytes)) throw new InvalidOperationException("request does not round-trip");
        }
        if (bytes.Length >= SyncWire.ReplyHeaderSize && SyncWire.TryParseReplyHeader(bytes[..SyncWire.ReplyHeaderSize], out var status, out int setLength, out int hints, out _))
        {
            Span<byte> again = stackalloc byte[SyncWire.ReplyHeaderSize];
            SyncWire.WriteReplyHeader(again, status, setLength, hints);
            if (!again.SequenceEqual(bytes[..SyncWire.ReplyHeaderSize])) throw new InvalidOperationException("reply header does not round-trip");
            if (setLength < 0 || setLength > PeerSet.MaxSize || hints > SyncWire.MaxHints) throw new InvalidOperationException("reply header outside its bounds");
        }
        Span<byte> hintAgain = stackalloc byte[EndpointHint.Size];
        for (int at = 0; at + EndpointHint.Size <= bytes.Length; at += EndpointHint.Size)
        {
            if (!SyncWire.TryParseHint(bytes.Slice(at, EndpointHint.Size), out var hint)) continue;
            SyncWire.WriteHint(hintAgain, hint!);
            if (!SyncWire.TryParseHint(hintAgain, out var back) || back! != hint) throw new InvalidOperationException("hint does not round-trip");
        }
    }

    /// <summary>Up to 4 chunk values, each a u16 length (0xffff: the variable does not exist) and its bytes.</summary>
    private void Roster(ReadOnlySpan<byte> bytes)
    {
        var chunks = new List<byte[]?>();
        while (chunks.Count < RelayRoster.MaxChunks && bytes.Length >= 2)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(bytes);
            bytes = bytes[2..];
            if (length == 0xffff) { chunks.Add(null); continue; }
            length = Math.Min(length, bytes.Length);
            chunks.Add(bytes[..length].ToArray());
            bytes = bytes[length..];
        }
        var verdict = RelayRoster.TryRead(i => i < chunks.Count ? chunks[i] : null, hub, 0, out var roster, out var detail);
        if (string.IsNullOrEmpty(detail)) throw new InvalidOperationException("a roster verdict without a detail");
        if ((verdict == RosterVerdict.Accepted) != (roster is not null)) throw new InvalidOperationException("a roster returned with a refusal, or none with an acceptance");
        if (verdict != RosterVerdict.Accepted) return;
        var written = roster!.ToChunks();
        for (int i = 0; i < written.Count; i++)
        {
            if (!written[i].AsSpan().SequenceEqual(chunks[i])) throw new InvalidOperationException($"accepted roster's chunk {i} is not what the codec writes for it");
        }
    }

    private static void Chunk(ReadOnlySpan<byte> bytes)
    {
        var verdict = RelayRoster.Chunk.TryParse(bytes, out var chunk, out var detail);
        if (verdict == RosterVerdict.Accepted && (chunk.Count is < 1 or > RelayRoster.MaxChunks || chunk.Index >= chunk.Count || chunk.BodyLength > RelayRoster.MaxBodySize))
        {
            throw new InvalidOperationException("a chunk accepted outside its bounds");
        }
        if (verdict != RelayRoster.Chunk.TryParse(bytes, out _, out _) || (verdict != RosterVerdict.Accepted && detail.Length == 0)) throw new InvalidOperationException("chunk verdict unstable or without a reason");
    }
}
