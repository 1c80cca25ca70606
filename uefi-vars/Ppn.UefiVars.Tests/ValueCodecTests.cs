using System.Text;
using CsCheck;
using Ppn.UefiVars.Values;

namespace Ppn.UefiVars.Tests;

public sealed class ValueCodecTests
{
    [Theory]
    [InlineData("hex:0a0b", new byte[] { 0x0a, 0x0b })]
    [InlineData("0A0b", new byte[] { 0x0a, 0x0b })]
    [InlineData("0x0a0b", new byte[] { 0x0a, 0x0b })]
    [InlineData("0a:0b", new byte[] { 0x0a, 0x0b })]
    [InlineData("hex:0a 0b-0c", new byte[] { 0x0a, 0x0b, 0x0c })]
    [InlineData("base64:CgsM", new byte[] { 0x0a, 0x0b, 0x0c })]
    [InlineData("text:hi", new byte[] { 0x68, 0x69 })]
    [InlineData("utf8:\u00e9", new byte[] { 0xc3, 0xa9 })]
    [InlineData("text:", new byte[] { })]
    [InlineData("ucs2:hi", new byte[] { 0x68, 0, 0x69, 0 })]
    [InlineData("ucs2z:hi", new byte[] { 0x68, 0, 0x69, 0, 0, 0 })]
    [InlineData("utf16:\U0001F600", new byte[] { 0x3d, 0xd8, 0x00, 0xde })]
    [InlineData("TEXT:a:b", new byte[] { 0x61, 0x3a, 0x62 })]
    public void Parses_each_input_form(string text, byte[] expected)
        => Assert.Equal(expected, VariableValueCodec.Parse(text));

    [Theory]
    [InlineData("hello", "not hex")]
    [InlineData("abc", "not hex")]
    [InlineData("hex:abc", "3 digits")]
    [InlineData("hex:", "empty")]
    [InlineData("hex::0a", "position 0")]
    [InlineData("base64:!!", "not valid base64")]
    [InlineData("base64:", "empty")]
    [InlineData("ucs2:\U0001F600", "UCS-2 cannot hold it")]
    [InlineData("file:", "no file name")]
    [InlineData("nope:x", "prefix")]
    public void Bad_input_is_a_clear_error(string text, string message)
    {
        Assert.False(VariableValueCodec.TryParse(text, out _, out var error));
        Assert.Contains(message, error);
        Assert.Contains(message, Assert.Throws<FormatException>(() => VariableValueCodec.Parse(text)).Message);
    }

    [Fact]
    public void Unpaired_surrogate_is_refused_even_for_utf16()
    {
        Assert.False(VariableValueCodec.TryParse("utf16:\ud800x", out _, out var error));
        Assert.Contains("unpaired surrogate at position 0", error);
    }

    [Fact]
    public void Reads_value_files_with_file_prefix_or_at_sign()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Equal(new byte[] { 1, 2, 3 }, VariableValueCodec.Parse("file:" + path));
            Assert.Equal(new byte[] { 1, 2, 3 }, VariableValueCodec.Parse("@" + path));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.False(VariableValueCodec.TryParse("@" + path, out _, out var error));
        Assert.Contains("cannot read value file " + path, error);
    }

    [Theory]
    [InlineData("file:/dev/zero", "is a character device, not a regular file")]
    [InlineData("@/dev/zero", "is a character device, not a regular file")]
    [InlineData("file:/tmp", "is a directory, not a regular file")]
    [InlineData("@/", "is a directory, not a regular file")]
    public void A_value_file_that_is_not_a_regular_file_is_refused_unread(string text, string expected)
    {
        Assert.False(VariableValueCodec.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void A_value_file_is_capped_at_the_largest_uefi_variable()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ppn-value-{Guid.NewGuid():N}");
        try
        {
            using (var f = File.Create(path)) f.SetLength(VariableValueCodec.MaxFileValueBytes);
            Assert.Equal(VariableValueCodec.MaxFileValueBytes, VariableValueCodec.Parse("file:" + path).Length);
            using (var f = File.OpenWrite(path)) f.SetLength(8L << 30); // sparse 8 GiB: must not be read
            Assert.False(VariableValueCodec.TryParse("@" + path, out _, out var error));
            Assert.Contains($"larger than {VariableValueCodec.MaxFileValueBytes} bytes", error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Hex_and_base64_round_trip()
        => Gen.Byte.Array[1, 200].Sample(bytes =>
        {
            Assert.Equal(bytes, VariableValueCodec.Parse("hex:" + VariableValueCodec.Format(bytes, ValueFormat.Hex)));
            Assert.Equal(bytes, VariableValueCodec.Parse(VariableValueCodec.Format(bytes, ValueFormat.Hex)));
            Assert.Equal(bytes, VariableValueCodec.Parse("base64:" + VariableValueCodec.Format(bytes, ValueFormat.Base64)));
        });

    [Fact]
    public void Ucs2_text_round_trips_for_the_basic_multilingual_plane()
        => Gen.Char.Where(c => !char.IsSurrogate(c) && c != '\0').Array[0, 40].Select(cs => new string(cs)).Sample(s =>
        {
            var bytes = VariableValueCodec.Parse("ucs2z:" + s);
            Assert.Equal((s.Length + 1) * 2, bytes.Length);
            Assert.Equal(s, VariableValueCodec.Format(bytes, ValueFormat.Ucs2));
        });

    [Fact]
    public void Utf8_text_round_trips()
        => Gen.String.Where(s => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)) == s).Sample(s =>
            Assert.Equal(s, VariableValueCodec.Format(VariableValueCodec.Parse("text:" + s), ValueFormat.Text)));

    [Fact]
    public void Parsing_never_throws_on_any_string()
        => Gen.String.Sample(s => { VariableValueCodec.TryParse(s, out _, out _, _ => throw new IOException("no files here")); });

    [Fact]
    public void Text_format_refuses_invalid_utf8_and_odd_ucs2()
    {
        Assert.Contains("not valid UTF-8", Assert.Throws<FormatException>(() => VariableValueCodec.Format([0xff], ValueFormat.Text)).Message);
        Assert.Contains("odd number", Assert.Throws<FormatException>(() => VariableValueCodec.Format([0x41], ValueFormat.Ucs2)).Message);
    }

    [Fact]
    public void Hexdump_matches_hexdump_C_layout()
    {
        var bytes = Encoding.ASCII.GetBytes("PPN node identity\n").Concat(new byte[] { 0, 1 }).ToArray();
        var expected =
            "00000000  50 50 4e 20 6e 6f 64 65  20 69 64 65 6e 74 69 74  |PPN node identit|\n" +
            "00000010  79 0a 00 01                                       |y...|\n" +
            "00000014\n";
        Assert.Equal(expected, VariableValueCodec.Hexdump(bytes));
        Assert.Equal("00000000\n", VariableValueCodec.Hexdump([]));
    }

    [Fact]
    public void Hexdump_has_one_line_per_16_bytes_plus_the_length()
        => Gen.Byte.Array[0, 100].Sample(bytes =>
        {
            var lines = VariableValueCodec.Hexdump(bytes).TrimEnd('\n').Split('\n');
            Assert.Equal((bytes.Length + 15) / 16 + 1, lines.Length);
            for (int i = 0; i < lines.Length - 1; i++)
            {
                int inLine = Math.Min(16, bytes.Length - 16 * i);
                Assert.Equal(62 + inLine, lines[i].Length); // offset, 16 hex columns, gap, |ascii|
            }
            Assert.Equal(bytes.Length.ToString("x8"), lines[^1]);
        });

    [Theory]
    [InlineData("hexdump", ValueFormat.Hexdump)]
    [InlineData("HEX", ValueFormat.Hex)]
    [InlineData("base64", ValueFormat.Base64)]
    [InlineData("utf8", ValueFormat.Text)]
    [InlineData("utf16", ValueFormat.Ucs2)]
    public void Output_formats_parse_by_name(string text, ValueFormat format)
    {
        Assert.True(VariableValueCodec.TryParseFormat(text, out var parsed));
        Assert.Equal(format, parsed);
    }

    [Fact]
    public void Unknown_output_format_is_rejected()
        => Assert.False(VariableValueCodec.TryParseFormat("yaml", out _));
}
