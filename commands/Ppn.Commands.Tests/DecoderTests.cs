using System.Text.Json;

namespace Ppn.Commands.Tests;

public class DecoderTests
{
    [Fact]
    public void Decode_renders_every_field_and_checks_the_tag_with_a_key()
    {
        using var sealer = TestKeys.Sealer();
        using var ring = TestKeys.NodeRing();
        var b = new byte[16];
        sealer.Seal(0, CommandIntent.Identify, 3, TargetSelector.Group(7), 258, b);
        var decoded = PacketDecoder.Decode(b, ring);
        Assert.Equal(TagCheck.Valid, decoded.Tag);
        Assert.Equal(CommandVerdict.Accepted, decoded.Verdict);
        var text = decoded.ToText();
        Assert.Contains("intent   identify (0x1)", text);
        Assert.Contains("argument blink 30 s", text);
        Assert.Contains("target   group 7", text);
        Assert.Contains("counter  258 (block 1)", text);
        Assert.Contains("(valid)", text);

        var doc = decoded.ToDocument();
        Assert.Equal("identify", doc.Intent);
        Assert.Equal("group", doc.Target!.Kind);
        Assert.Equal("valid", doc.TagCheck);
        Assert.Equal("accept", doc.Verdict);

        b[12] ^= 1;
        Assert.Equal(CommandVerdict.BadTag, PacketDecoder.Decode(b, ring).Verdict);
        Assert.Equal(TagCheck.NotChecked, PacketDecoder.Decode(b).Tag);
        Assert.Equal(CommandVerdict.WrongTarget, PacketDecoder.Decode(b, new NodeAddressing(1)).Verdict);
    }

    [Fact]
    public void Decode_of_a_wrong_length_says_so_without_fields()
    {
        Assert.True(PacketDecoder.TryParseHex("0x10 00 00", out var bytes));
        var decoded = PacketDecoder.Decode(bytes);
        Assert.False(decoded.Parsed);
        Assert.Equal(CommandVerdict.WrongLength, decoded.Verdict);
        Assert.Contains("exactly 16 bytes", decoded.ToText());
        Assert.False(PacketDecoder.TryParseHex("zz", out _));
    }
}
