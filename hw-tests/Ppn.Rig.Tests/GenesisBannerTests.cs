namespace Ppn.Rig.Tests;

public class GenesisBannerTests
{
    // 32 bytes 0x00..0x1f in base64.
    private const string Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    [Theory]
    [InlineData("PPN-GENESIS/1 " + Key + "\r\n")]
    [InlineData("PPN-GENESIS/1 " + Key + "\n")]
    [InlineData("PPN-GENESIS/1 " + Key)]
    public void A_well_formed_banner_yields_its_key(string line)
    {
        Assert.True(GenesisBanner.TryParse(line, out var key));
        Assert.Equal(Key, key);
        Assert.Equal(32, Convert.FromBase64String(key).Length);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("PPN-GENESIS/1 ")]
    [InlineData("PPN-GENESIS/2 " + Key)]
    [InlineData("ppn-genesis/1 " + Key)]
    [InlineData("PPN-GENESIS/1  " + Key)]
    [InlineData(" PPN-GENESIS/1 " + Key)]
    [InlineData("PPN-GENESIS/1 " + Key + " ")]
    [InlineData("PPN-GENESIS/1 " + Key + "\r\nmore")]
    [InlineData("PPN-GENESIS/1 " + Key + "\n\n")]
    [InlineData("PPN-GENESIS/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")] // 43 chars
    [InlineData("PPN-GENESIS/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8h")] // 44 chars, 33 bytes
    [InlineData("PPN-GENESIS/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=")] // not base64
    [InlineData("PPN-GENESIS/1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=")] // non-zero padding bits
    [InlineData("PPN-GENESIS/1 AAECAwQFBgcICQoLDA0 ODxAREhMUFRYXGBkaGxwdHh8=")] // whitespace inside
    public void Anything_else_is_refused_without_throwing(string? line)
    {
        Assert.False(GenesisBanner.TryParse(line, out var key));
        Assert.Equal("", key);
    }

    [Fact]
    public void Random_input_never_throws()
    {
        var random = new Random(1234);
        for (int i = 0; i < 20_000; i++)
        {
            var chars = new char[random.Next(0, 80)];
            for (int j = 0; j < chars.Length; j++)
            {
                chars[j] = (char)random.Next(0, 256);
            }
            var text = random.Next(3) == 0 ? GenesisBanner.Prefix + new string(chars) : new string(chars);
            GenesisBanner.TryParse(text, out _);
        }
    }
}
