using System.Buffers.Binary;
using CsCheck;
using Geralt;

namespace Ppn.Commands.Tests;

/// <summary>
/// The verify path's tag (one compression from a per-key state, <see cref="CommandTagState"/>) against libsodium's
/// keyed BLAKE2b-256, the reference every other part of the code uses to make and check tags.
/// </summary>
public class TagStateTests
{
    private static ulong Reference(byte[] key, byte[] header)
    {
        var full = new byte[32];
        BLAKE2b.ComputeTag(full, header, key);
        return BinaryPrimitives.ReadUInt64LittleEndian(full);
    }

    [Fact]
    public void One_compression_from_the_key_state_is_keyed_BLAKE2b_256_for_any_key_and_header()
    {
        Gen.Select(Gen.Byte.Array[32], Gen.Byte.Array[8]).Sample((key, header) =>
        {
            Span<ulong> state = stackalloc ulong[CommandTagState.Words];
            CommandTagState.Precompute(state, key);
            Assert.Equal(Reference(key, header), CommandTagState.Tag(state, BinaryPrimitives.ReadUInt64LittleEndian(header)));
        }, iter: 5000);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    public void Extreme_keys_and_headers_agree_with_libsodium(byte fill)
    {
        var key = Enumerable.Repeat(fill, 32).ToArray();
        Span<ulong> state = stackalloc ulong[CommandTagState.Words];
        CommandTagState.Precompute(state, key);
        foreach (var h in new ulong[] { 0, ulong.MaxValue, 1, 1UL << 63 })
        {
            var header = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(header, h);
            Assert.Equal(Reference(key, header), CommandTagState.Tag(state, h));
        }
    }

    [Fact]
    public void The_protocol_example_tag_comes_out_of_the_key_state()
    {
        // docs/protocol/commands.md, the example (vector step 1) under command key 0 of the vectors.
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Repo.VectorsPath));
        var key = Convert.FromHexString(doc.RootElement.GetProperty("keys").GetProperty("commandKeys").GetProperty("0").GetString()!);
        var datagram = Convert.FromHexString("1000002a0000000161dbe5fe35e031bf");
        Span<ulong> state = stackalloc ulong[CommandTagState.Words];
        CommandTagState.Precompute(state, key);
        Assert.Equal(BinaryPrimitives.ReadUInt64LittleEndian(datagram.AsSpan(8)),
            CommandTagState.Tag(state, BinaryPrimitives.ReadUInt64LittleEndian(datagram)));
        using var ring = TestKeys.NodeRing();
        Assert.True(ring.TagMatches(datagram, 0));
    }

    [Fact]
    public void The_keyring_checks_tags_as_libsodium_does_under_every_epoch_and_refuses_every_flipped_bit_and_length()
    {
        using var nodeRing = TestKeys.NodeRing();
        using var authorityRing = CommandKeyring.ForAuthority(TestKeys.AuthorityPrivate, TestKeys.NodePublic);
        Gen.Select(Gen.Int[0, 15], Gen.UInt[1, uint.MaxValue]).Sample((epoch, counter) =>
        {
            var datagram = new byte[CommandPacket.Size];
            CommandSealer.Seal(authorityRing.Key(epoch), CommandPacket.CurrentVersion, (byte)epoch, 0, 0, TargetSelector.Node(42), counter, datagram);
            Assert.True(nodeRing.TagMatches(datagram, epoch));
            Assert.True(CommandKeyring.TagMatches(datagram, nodeRing.Key(epoch)));
            Assert.False(nodeRing.TagMatches(datagram, (epoch + 1) & 15));
            for (int bit = 0; bit < 64; bit++)
            {
                datagram[8 + bit / 8] ^= (byte)(1 << (bit % 8));
                Assert.False(nodeRing.TagMatches(datagram, epoch));
                Assert.False(CommandKeyring.TagMatches(datagram, nodeRing.Key(epoch)));
                datagram[8 + bit / 8] ^= (byte)(1 << (bit % 8));
            }
            Assert.False(nodeRing.TagMatches(datagram.AsSpan(0, 15), epoch));
            Assert.False(nodeRing.TagMatches([.. datagram, 0], epoch));
        }, iter: 300);
    }

    [Fact]
    public void A_disposed_keyring_checks_no_tag()
    {
        var ring = TestKeys.NodeRing();
        ring.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ring.TagMatches(new byte[CommandPacket.Size], 0));
    }

    [Fact]
    public void A_retired_keyring_checks_no_tag_and_keeps_its_keys_for_whoever_still_holds_them()
    {
        var ring = TestKeys.NodeRing();
        var key0 = ring.Key(0).ToArray();
        var captured = ring.KeyMemoryForTests().Span;
        ring.Retire();
        Assert.Throws<ObjectDisposedException>(() => ring.TagMatches(new byte[CommandPacket.Size], 0));
        Assert.Throws<ObjectDisposedException>(() => ring.Key(0).Length);
        Assert.Equal(key0, captured[..32].ToArray()); // not zeroed: a thread still inside a check computes real tags
        ring.Dispose();
        Assert.True(captured.ToArray().All(b => b == 0));
    }

    [Fact]
    public void Epochs_outside_0_to_15_and_authority_keyrings_are_refused()
    {
        using var ring = TestKeys.NodeRing();
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.TagMatches(new byte[CommandPacket.Size], 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.TagMatches(new byte[CommandPacket.Size], 0x20000000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Key(-1).Length);
        using var authority = CommandKeyring.ForAuthority(TestKeys.AuthorityPrivate, TestKeys.NodePublic);
        Assert.Throws<InvalidOperationException>(() => authority.TagMatches(new byte[CommandPacket.Size], 0));
        Assert.Throws<ArgumentException>(() => new CommandVerifier(authority, new NodeAddressing(42), new InMemoryReplayStateStore(), 0));
    }
}
