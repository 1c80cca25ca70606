using CsCheck;
namespace Ppn.Commands.Tests;

public class CodecTests
{
    [Fact]
    public void Fields_round_trip_through_the_16_bytes()
    {
        var packet = new CommandPacket(1, 9, (byte)CommandIntent.Identify, 3, TargetSelector.Group(0x2ABC), 0xDEADBEEF, 0x0102030405060708);
        Span<byte> bytes = stackalloc byte[16];
        packet.WriteTo(bytes);
        Assert.Equal("19136abcdeadbeef0102030405060708", Convert.ToHexStringLower(bytes));
        Assert.True(CommandPacket.TryParse(bytes, out var back));
        Assert.Equal(packet.Version, back.Version);
        Assert.Equal(packet.Epoch, back.Epoch);
        Assert.Equal(CommandIntent.Identify, back.Intent);
        Assert.Equal(3, back.Argument);
        Assert.Equal(TargetSelector.Group(0x2ABC), back.Target);
        Assert.Equal(0xDEADBEEFu, back.Counter);
        Assert.Equal(0x0102030405060708ul, back.Tag);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(1500)]
    public void TryParse_refuses_any_length_but_16_without_throwing(int length)
    {
        Assert.False(CommandPacket.TryParse(new byte[length], out _));
    }

    [Fact]
    public void Target_selector_encodes_kind_in_the_top_two_bits()
    {
        Assert.Equal(0x002A, TargetSelector.Node(42).Encode());
        Assert.Equal(0x4007, TargetSelector.Group(7).Encode());
        Assert.Equal(0x8000, TargetSelector.All.Encode());
        Assert.Equal(new TargetSelector(TargetKind.Reserved, 1), TargetSelector.Decode(0xC001));
        Assert.Throws<ArgumentOutOfRangeException>(() => TargetSelector.Node(0x4000));
    }

    [Fact]
    public void Every_intent_token_parses_back_to_its_code()
    {
        foreach (var intent in Enum.GetValues<CommandIntent>())
        {
            Assert.True(CommandPacket.TryParseIntentToken(CommandPacket.IntentToken((byte)intent), out var back));
            Assert.Equal(intent, back);
        }
        Assert.False(CommandPacket.TryParseIntentToken("format-disk", out _));
    }

    [Fact]
    public void Any_16_random_bytes_parse_and_rewrite_identically()
    {
        Gen.Byte.Array[16, 16].Sample(bytes =>
        {
            Assert.True(CommandPacket.TryParse(bytes, out var p));
            var again = new byte[16];
            p.WriteTo(again);
            Assert.Equal(bytes, again);
        }, iter: 2000);
    }
}
