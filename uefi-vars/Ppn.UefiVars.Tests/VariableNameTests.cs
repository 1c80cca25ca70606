using CsCheck;

namespace Ppn.UefiVars.Tests;

public sealed class VariableNameTests
{
    private static readonly Guid Global = VariableName.EfiGlobal;

    [Fact]
    public void File_name_is_name_dash_lower_case_guid()
        => Assert.Equal("BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c", new VariableName("BootOrder", Global).FileName);

    [Theory]
    [InlineData("BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c", "BootOrder")]
    [InlineData("Boot-0001-8be4df61-93ca-11d2-aa0d-00e098032b8c", "Boot-0001")]
    [InlineData("a-8be4df61-93ca-11d2-aa0d-00e098032b8c", "a")]
    public void Parses_efivarfs_file_names_with_the_guid_in_the_last_36_characters(string fileName, string name)
    {
        Assert.True(VariableName.TryParse(fileName, out var parsed));
        Assert.Equal(new VariableName(name, Global), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-8be4df61-93ca-11d2-aa0d-00e098032b8c")]
    [InlineData("BootOrder8be4df61-93ca-11d2-aa0d-00e098032b8c")]
    [InlineData("BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8")]
    [InlineData("BootOrder-zzzzzzzz-93ca-11d2-aa0d-00e098032b8c")]
    [InlineData("BootOrder")]
    public void Rejects_what_is_not_name_dash_guid(string fileName)
        => Assert.False(VariableName.TryParse(fileName, out _));

    [Fact]
    public void TryParse_never_throws_and_round_trips_what_it_accepts()
        => Gen.String.Sample(s =>
        {
            if (VariableName.TryParse(s, out var name)) Assert.Equal(name.Value, VariableName.TryParse(name.Value.FileName, out var again) ? again : null);
        });

    [Theory]
    [InlineData("PpnIdentity", true)]
    [InlineData("Boot0001", true)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    [InlineData("a/b", false)]
    [InlineData("tab\t", false)]
    [InlineData("\u00e9", false)]
    public void Valid_names_are_printable_ascii_without_slash(string name, bool valid)
        => Assert.Equal(valid, VariableName.IsValidName(name, out _));

    [Fact]
    public void Longest_valid_name_fills_NAME_MAX_with_the_guid()
    {
        var longest = new string('x', VariableName.MaxNameLength);
        Assert.True(VariableName.IsValidName(longest, out _));
        Assert.Equal(255, VariableName.Ppn(longest).FileName.Length);
        Assert.False(VariableName.IsValidName(longest + "x", out var reason));
        Assert.Contains("218", reason);
    }

    [Theory]
    [InlineData("PpnIdentity", "PpnIdentity", "5d6b8a4e-9c1f-4f2a-8e57-3b0c2d9a7f11")]
    [InlineData(" BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c ", "BootOrder", "8be4df61-93ca-11d2-aa0d-00e098032b8c")]
    [InlineData("8be4df61-93ca-11d2-aa0d-00e098032b8c-BootOrder", "BootOrder", "8be4df61-93ca-11d2-aa0d-00e098032b8c")]
    public void User_input_accepts_name_name_guid_and_guid_name(string text, string name, string vendor)
    {
        Assert.True(VariableName.TryParseUserInput(text, VariableName.PpnVendor, out var parsed, out var error), error);
        Assert.Equal(new VariableName(name, new Guid(vendor)), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("a/b")]
    [InlineData("8be4df61-93ca-11d2-aa0d-00e098032b8c-")]
    public void User_input_errors_say_what_is_wrong(string? text)
    {
        Assert.False(VariableName.TryParseUserInput(text, VariableName.PpnVendor, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void User_input_parsing_never_throws()
        => Gen.String.Sample(s => { VariableName.TryParseUserInput(s, VariableName.PpnVendor, out _, out _); });
}
