using Ppn.Appliance.Cli;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

public sealed class UefiVerbTests : IDisposable
{
    private readonly TempDirEfivarfs _efivarfs = new();

    public void Dispose() => _efivarfs.Dispose();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var environment = new CliEnvironment("/sys/firmware/efi/efivars", () => _efivarfs, []);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Parse(CommandLine.Build(environment), args).Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Set_then_get_round_trips_a_text_value_with_its_attributes()
    {
        Assert.Equal(0, Run("uefi", "set", "PpnNote", "text:rack 4, slot 2", "--attributes", "NV,BS,RT").Code);
        var (code, output, _) = Run("uefi", "get", "PpnNote", "--format", "text");
        Assert.Equal(0, code);
        Golden.Match("uefi-get-text", output);
    }

    [Fact]
    public void List_shows_names_vendors_attributes_and_sizes()
    {
        _efivarfs.Seed(new VariableName("BootOrder", VariableName.EfiGlobal), VariableAttributes.NonVolatileBootRuntime, [0, 0, 1, 0]);
        Run("uefi", "set", "PpnNote", "hex:0102030405");
        var (code, output, _) = Run("uefi", "list");
        Assert.Equal(0, code);
        Golden.Match("uefi-list", output.Replace(_efivarfs.Location, "<efivarfs>"));
    }

    [Fact]
    public void Get_as_json_gives_value_in_hex()
    {
        Run("uefi", "set", "PpnNote", "hex:0a0b");
        var (code, output, _) = Run("uefi", "get", "PpnNote", "--json");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal("0a0b", doc.RootElement.GetProperty("value").GetString());
        Assert.Equal(7u, doc.RootElement.GetProperty("attributesValue").GetUInt32());
    }

    [Fact]
    public void The_identity_variable_is_neither_printed_nor_written_by_hand()
    {
        _efivarfs.Seed(SecretVariables.Identity, VariableAttributes.NonVolatileBootRuntime, [1, 2, 3, 4]);
        var (code, output, _) = Run("uefi", "get", "PpnIdentity", "--format", "hex");
        Assert.Equal(0, code);
        Assert.DoesNotContain("01020304", output);
        Assert.Contains("secret: not shown", output);

        var set = Run("uefi", "set", "PpnIdentity", "hex:00");
        Assert.Equal(ExitCodes.PermissionDenied, set.Code);
        Assert.Equal(ExitCodes.PermissionDenied, Run("uefi", "rm", "PpnIdentity").Code);
    }

    [Fact]
    public void Create_only_refuses_to_replace_and_says_so()
    {
        Run("uefi", "set", "PpnNote", "text:a");
        var (code, _, err) = Run("uefi", "set", "PpnNote", "text:b", "--create-only");
        Assert.Equal(ExitCodes.Conflict, code);
        Assert.StartsWith("ppn: error: ", err);
    }

    [Fact]
    public void Bad_input_gets_one_line_saying_what_and_where()
    {
        var badValue = Run("uefi", "set", "PpnNote", "hex:zz");
        Assert.Equal(ExitCodes.BadInput, badValue.Code);
        Assert.Contains("value:", badValue.Err);
        var badAttributes = Run("uefi", "set", "PpnNote", "hex:00", "--attributes", "XYZ");
        Assert.Equal(ExitCodes.BadInput, badAttributes.Code);
        Assert.Contains("--attributes", badAttributes.Err);
        var missing = Run("uefi", "get", "NoSuchVariable");
        Assert.Equal(ExitCodes.NotFound, missing.Code);
        Assert.Single(missing.Err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void A_full_nvram_exits_with_the_no_space_code()
    {
        using var small = new TempDirEfivarfs(capacityBytes: 64);
        var environment = new CliEnvironment("/x", () => small, []);
        var stderr = new StringWriter();
        int code = CommandLine.Build(environment).Parse(["uefi", "set", "PpnBig", "hex:" + new string('a', 400)])
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = stderr });
        Assert.Equal(ExitCodes.NoSpace, code);
    }

    [Fact]
    public void Rm_deletes_and_selftest_passes_on_the_twin()
    {
        Run("uefi", "set", "PpnNote", "text:x");
        Assert.Equal(0, Run("uefi", "rm", "PpnNote").Code);
        Assert.Equal(ExitCodes.NotFound, Run("uefi", "get", "PpnNote").Code);
        var (code, output, _) = Run("uefi", "selftest", "--json");
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal(0, doc.RootElement.GetProperty("failed").GetInt32());
    }
}
