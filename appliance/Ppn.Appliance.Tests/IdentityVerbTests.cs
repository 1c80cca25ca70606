using Ppn.Appliance.Cli;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

public sealed class IdentityVerbTests : IDisposable
{
    private readonly TempDirEfivarfs _nvram = new();

    public void Dispose() => _nvram.Dispose();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CommandLine.Parse(CommandLine.Build(new CliEnvironment("/x", () => _nvram, [])), args)
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Genesis()
    {
        using var identity = new IdentityStore(_nvram, new EntropyMixer([new KernelRandomSource()])).LoadOrCreate();
        return identity.PublicKeyBase64;
    }

    [Fact]
    public void Show_prints_the_public_key_and_never_the_private_key()
    {
        var key = Genesis();
        var (code, output, _) = Run("identity", "show");
        Assert.Equal(0, code);
        Assert.Contains($"public key: {key}", output);
        var raw = _nvram.ReadRaw(IdentityStore.Variable)!;
        Assert.DoesNotContain(Convert.ToBase64String(raw.AsSpan(4 + 8, 32)), output);

        var json = Run("identity", "show", "--json");
        using var doc = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.Equal(key, doc.RootElement.GetProperty("publicKey").GetString());
    }

    [Fact]
    public void No_identity_yet_is_not_found_with_what_to_do()
    {
        var (code, _, err) = Run("identity", "show");
        Assert.Equal(ExitCodes.NotFound, code);
        Assert.Contains("has not run genesis yet", err);
    }

    [Fact]
    public void A_damaged_record_is_an_integrity_error()
    {
        Genesis();
        var raw = _nvram.ReadRaw(IdentityStore.Variable)!;
        raw[^1] ^= 0xFF;
        _nvram.Reboot();
        _nvram.Store.Write(IdentityStore.Variable, VariableAttributes.NonVolatileBootRuntime, raw.AsSpan(4), WriteMode.CreateOrReplace);
        var (code, _, err) = Run("identity", "show");
        Assert.Equal(ExitCodes.Integrity, code);
        Assert.Contains("checksum mismatch", err);
    }

    [Fact]
    public void Reset_needs_confirm_and_then_deletes()
    {
        Genesis();
        Assert.Equal(ExitCodes.BadInput, Run("identity", "reset").Code);
        Assert.NotNull(_nvram.ReadRaw(IdentityStore.Variable));
        var (code, output, _) = Run("identity", "reset", "--confirm");
        Assert.Equal(0, code);
        Assert.Contains("identity deleted", output);
        Assert.Null(_nvram.Store.TryRead(IdentityStore.Variable));
    }
}
