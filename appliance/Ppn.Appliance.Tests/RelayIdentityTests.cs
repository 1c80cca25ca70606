using Ppn.Appliance.Init;
using Ppn.Genesis.Identity;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>The relay's key is its own genesis identity in UEFI variables: made once, the same after every boot, never logged.</summary>
public sealed class RelayIdentityTests : IDisposable
{
    private readonly TempDirEfivarfs _nvram = new();

    public void Dispose() => _nvram.Dispose();

    [Fact]
    public void The_first_boot_makes_the_relay_key_and_every_later_boot_restores_the_same_one()
    {
        var log = new Log();
        string first, firstPublic;
        using (var key = new RelayIdentity(_nvram.Store, log).Load())
        {
            first = key.RevealBase64();
            firstPublic = key.PublicKey().ToBase64();
        }
        _nvram.Reboot();
        using var again = new RelayIdentity(_nvram.OpenStore(), log).Load();
        Assert.Equal(first, again.RevealBase64());
        Assert.Contains(log.Lines, l => l.StartsWith($"relay: identity {firstPublic} created from ", StringComparison.Ordinal) && l.EndsWith("give the authority this key as the hub's", StringComparison.Ordinal));
        Assert.Contains($"relay: identity {firstPublic} restored from {IdentityStore.Variable.FileName}", log.Lines);
        Assert.DoesNotContain(log.Lines, l => l.Contains(first, StringComparison.Ordinal));
    }

    [Fact]
    public void A_damaged_identity_record_is_an_error_not_a_new_key()
    {
        _nvram.Kernel.Seed(IdentityStore.Variable, IdentityStore.Attributes, new byte[7]);
        var e = Assert.Throws<IdentityException>(() => new RelayIdentity(_nvram.Store, new Log()).Load());
        Assert.Equal(IdentityErrorKind.Corrupt, e.Kind);
    }

    [Fact]
    public void Without_uefi_variables_the_relay_says_it_cannot_keep_an_identity()
    {
        var e = Assert.Throws<IdentityException>(() => new RelayIdentity(null, new Log()).Load());
        Assert.Contains("no UEFI variable storage", e.Message);
    }

    private sealed class Log : ILog
    {
        public List<string> Lines { get; } = [];
        public void Write(string area, string message) { lock (Lines) Lines.Add($"{area}: {message}"); }
    }
}
