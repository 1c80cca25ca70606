using Ppn.Genesis.Holding;

namespace Ppn.Genesis.Tests;

/// <summary>The one banner parser (the node's, the claim client's and the rig's): strict, canonical, never throws.</summary>
public class GenesisBannerParserTests
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
        Assert.Equal(Key, Convert.ToBase64String(key));
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
    [InlineData("PPN-GENESIS/1 ERROR identity-corrupt\r\n")]
    [InlineData("PPN-GENESIS/1 ENROLLED " + Key + " " + Key + "\r\n")]
    public void Anything_else_is_refused_without_throwing(string? line)
    {
        Assert.False(GenesisBanner.TryParse(line, out var key));
        Assert.Null(key);
    }

    [Fact]
    public void The_enrolled_banner_needs_canonical_keys_and_one_line_end()
    {
        Assert.True(GenesisBanner.TryParseEnrolled("PPN-GENESIS/1 ENROLLED " + Key + " " + Key + "\n", out var node, out var authority));
        Assert.Equal(Key, Convert.ToBase64String(node));
        Assert.Equal(Key, Convert.ToBase64String(authority));
        Assert.False(GenesisBanner.TryParseEnrolled("PPN-GENESIS/1 ENROLLED " + Key + " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", out _, out _));
        Assert.False(GenesisBanner.TryParseEnrolled("PPN-GENESIS/1 ENROLLED " + Key + " " + Key + "\n\n", out _, out _));
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
            var text = random.Next(3) == 0 ? GenesisBanner.Protocol + " " + new string(chars) : new string(chars);
            GenesisBanner.TryParse(text, out _);
            GenesisBanner.TryParseEnrolled(text, out _, out _);
        }
    }
}
