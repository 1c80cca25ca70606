using CsCheck;
using Ppn.UefiVars.Values;

namespace Ppn.UefiVars.Tests;

public sealed class AttributeNamesTests
{
    private const VariableAttributes Nbr = VariableAttributes.NonVolatileBootRuntime;

    [Theory]
    [InlineData("NV,BS,RT")]
    [InlineData("nv|bs|rt")]
    [InlineData("non-volatile,bootservice-access,runtime-access")]
    [InlineData("Non-Volatile + Boot-Service-Access + Runtime")]
    [InlineData("0x7")]
    [InlineData("0X00000007")]
    [InlineData(" NV BS RT NV ")]
    public void Parses_names_and_hex(string text)
        => Assert.Equal(Nbr, VariableAttributeNames.Parse(text));

    [Fact]
    public void None_is_zero()
    {
        Assert.Equal(VariableAttributes.None, VariableAttributeNames.Parse("none"));
        Assert.Equal("none", VariableAttributeNames.Format(VariableAttributes.None));
    }

    [Theory]
    [InlineData("", "no attributes")]
    [InlineData("NV,XX", "unknown attribute 'XX'")]
    [InlineData("7", "unknown attribute '7'")]
    [InlineData("0x", "not a 32-bit hex number")]
    [InlineData("0x123456789", "not a 32-bit hex number")]
    [InlineData("0xzz", "not a 32-bit hex number")]
    [InlineData("0x80", "outside the UEFI attribute bits")]
    public void Bad_attributes_are_a_clear_error(string text, string message)
    {
        Assert.False(VariableAttributeNames.TryParse(text, out _, out var error));
        Assert.Contains(message, error);
    }

    [Fact]
    public void Formats_short_long_and_hex()
    {
        Assert.Equal("NV,BS,RT", VariableAttributeNames.Format(Nbr));
        Assert.Equal("non-volatile,bootservice-access,runtime-access", VariableAttributeNames.Format(Nbr, AttributeNameStyle.Long));
        Assert.Equal("0x00000007", VariableAttributeNames.FormatHex(Nbr));
        Assert.Equal("NV,0x100", VariableAttributeNames.Format(VariableAttributes.NonVolatile | (VariableAttributes)0x100));
    }

    [Fact]
    public void Every_known_combination_round_trips_in_both_styles_and_hex()
    {
        for (uint bits = 0; bits <= 0x7f; bits++)
        {
            var a = (VariableAttributes)bits;
            Assert.Equal(a, VariableAttributeNames.Parse(VariableAttributeNames.Format(a)));
            Assert.Equal(a, VariableAttributeNames.Parse(VariableAttributeNames.Format(a, AttributeNameStyle.Long)));
            Assert.Equal(a, VariableAttributeNames.Parse(VariableAttributeNames.FormatHex(a)));
        }
    }

    [Fact]
    public void Parsing_never_throws_on_any_string()
        => Gen.String.Sample(s => { VariableAttributeNames.TryParse(s, out _, out _); });
}
