using Ppn.Commands;
using Ppn.FuzzSupport;

// Invariants checked beyond "does not throw": an accepted datagram is exactly 16 bytes and carries the tag the
// authority would compute; the decoder agrees with the verifier on structure.
// The entry point (afl persistent mode, or --once FILE... outside afl) is testing/Ppn.FuzzSupport's.
FuzzEntry.Run(args, 64, () => new Harness().Check);

internal sealed class Harness
{
    private readonly CommandKeyring ring; // lower-case: the setup body reads as the script it was
    private readonly NodeAddressing addressing;
    private readonly InMemoryReplayStateStore store;
    private readonly CommandVerifier verifier;
    private readonly byte[] expectedTag;

    public Harness()
    {
        var authorityPrivate = Convert.FromHexString("a8" + string.Concat(Enumerable.Repeat("ab", 30)) + "6b");
        var nodePrivate = Convert.FromHexString("c8" + string.Concat(Enumerable.Repeat("cd", 30)) + "4d");
        var authorityPublic = new byte[32];
        Geralt.X25519.ComputePublicKey(authorityPublic, authorityPrivate);
        ring = CommandKeyring.ForNode(nodePrivate, authorityPublic);
        addressing = new NodeAddressing(42, 7, 300);
        store = new InMemoryReplayStateStore();
        store.Save(new ReplayState(0, 0));
        verifier = new CommandVerifier(ring, addressing, store, 0);
        expectedTag = new byte[CommandPacket.TagSize];
    }

    public void Check(ReadOnlySpan<byte> input)
    {
        bool parsed = CommandPacket.TryParse(input, out var packet);
        if (parsed)
        {
            Span<byte> again = stackalloc byte[16];
            packet.WriteTo(again);
            if (!again.SequenceEqual(input)) throw new InvalidOperationException("WriteTo(TryParse(x)) != x");
        }
        var verdict = verifier.Verify(input, out _);
        if (verdict == CommandVerdict.Accepted)
        {
            if (!parsed) throw new InvalidOperationException("accepted a datagram that does not parse");
            CommandKeyring.ComputeTag(expectedTag, input, ring.Key(packet.Epoch));
            if (!expectedTag.AsSpan().SequenceEqual(input[8..16])) throw new InvalidOperationException("accepted a wrong tag");
        }
        var decoded = PacketDecoder.Decode(input, ring, addressing);
        if (decoded.Parsed != parsed) throw new InvalidOperationException("decoder and parser disagree on length");
        if (verdict == CommandVerdict.Accepted && decoded.Verdict != CommandVerdict.Accepted) throw new InvalidOperationException("decoder rejects what the verifier accepted");
        // Both ways: the verifier's tag (one compression from the key's state) and the decoder's (libsodium) agree.
        if (verdict == CommandVerdict.BadTag && decoded.Tag == TagCheck.Valid) throw new InvalidOperationException("the verifier refused a tag libsodium accepts");
        _ = decoded.ToText();
    }
}
