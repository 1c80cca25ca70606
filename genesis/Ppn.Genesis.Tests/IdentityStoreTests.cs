using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.Linux;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Genesis.Tests;

public sealed class IdentityStoreTests : IDisposable
{
    private readonly TempDirEfivarfs _nvram = new();
    private readonly List<string> _log = new();

    public void Dispose() => _nvram.Dispose();

    private IdentityStore Store() => new(_nvram, new EntropyMixer([new KernelRandomSource()]), _log.Add);

    [Fact]
    public void First_boot_creates_and_the_next_boot_restores_the_same_identity()
    {
        string created;
        using (var first = Store().LoadOrCreate())
        {
            Assert.Equal(IdentityOrigin.Created, first.Origin);
            created = first.PublicKeyBase64;
        }
        _nvram.Reboot();
        using var second = Store().LoadOrCreate();
        Assert.Equal(IdentityOrigin.Restored, second.Origin);
        Assert.Equal(created, second.PublicKeyBase64);
    }

    [Fact]
    public void The_record_is_stored_readable_by_root_only()
    {
        using var identity = Store().LoadOrCreate();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, _nvram.GetFileMode(IdentityStore.Variable));
    }

    [Fact]
    public void A_corrupt_record_is_an_error_and_is_left_untouched_for_the_technician()
    {
        using (Store().LoadOrCreate()) { }
        var stored = _nvram.ReadRaw(IdentityStore.Variable)!;
        var damaged = stored.ToArray();
        damaged[^1] ^= 0xFF;
        _nvram.Reboot();
        _nvram.Store.Write(IdentityStore.Variable, IdentityStore.Attributes, damaged.AsSpan(4), WriteMode.CreateOrReplace);

        var ex = Assert.Throws<IdentityException>(() => Store().LoadOrCreate());
        Assert.Equal(IdentityErrorKind.Corrupt, ex.Kind);
        Assert.Contains("checksum mismatch", ex.Message);
        Assert.Contains("ppn identity reset --confirm", ex.Message);
        Assert.Equal(damaged, _nvram.ReadRaw(IdentityStore.Variable));
    }

    [Fact]
    public void A_full_nvram_gives_no_identity_and_shows_no_key()
    {
        _nvram.FailWrite(1, Errno.ENOSPC);
        var ex = Assert.Throws<IdentityException>(() => Store().LoadOrCreate());
        Assert.Equal(IdentityErrorKind.StorageFailed, ex.Kind);
        Assert.Null(_nvram.Store.TryRead(IdentityStore.Variable));
        Assert.DoesNotContain(_log, l => l.Contains('='));
    }

    [Fact]
    public void A_read_back_that_fails_is_a_verify_error_not_an_identity()
    {
        // The look for an existing record fails at open (ENOENT) without a read: read 1 is the read-back.
        _nvram.InjectFault(EfivarfsOperation.Read, 1, Errno.EIO);
        var ex = Assert.Throws<IdentityException>(() => Store().LoadOrCreate());
        Assert.Equal(IdentityErrorKind.VerifyFailed, ex.Kind);
    }

    [Fact]
    public void Reset_deletes_so_the_next_genesis_makes_a_new_key()
    {
        string first;
        using (var identity = Store().LoadOrCreate()) first = identity.PublicKeyBase64;
        Assert.True(Store().Reset());
        using var again = Store().LoadOrCreate();
        Assert.Equal(IdentityOrigin.Created, again.Origin);
        Assert.NotEqual(first, again.PublicKeyBase64);
        Assert.True(Store().Reset());
        Assert.False(Store().Reset());
    }
}

public sealed class IdentityStoreEdgeTests : IDisposable
{
    private readonly TempDirEfivarfs _nvram = new();

    public void Dispose() => _nvram.Dispose();

    private IdentityStore Store() => new(_nvram, new EntropyMixer([new KernelRandomSource()]));

    [Fact]
    public void A_volatile_variable_under_our_name_is_not_taken_for_the_identity()
    {
        var record = new byte[IdentityRecord.Size];
        using (var keys = NodeKeyPair.FromSeed(new byte[32]))
        {
            new IdentityRecord(1, EntropySources.KernelCsprng, keys.PrivateKey.ToArray(), keys.PublicKey).WriteTo(record);
        }
        _nvram.Seed(IdentityStore.Variable, VariableAttributes.BootServiceAccess | VariableAttributes.RuntimeAccess, record);
        var ex = Assert.Throws<IdentityException>(() => Store().LoadOrCreate());
        Assert.Equal(IdentityErrorKind.Corrupt, ex.Kind);
        Assert.Contains("not non-volatile", ex.Message);
    }

    [Fact]
    public void Unreadable_storage_is_a_typed_storage_error_not_a_crash()
    {
        using (Store().LoadOrCreate()) { }
        _nvram.Reboot();
        _nvram.InjectFault(EfivarfsOperation.Read, 1, Errno.EIO);
        var ex = Assert.Throws<IdentityException>(() => Store().LoadOrCreate());
        Assert.Equal(IdentityErrorKind.StorageFailed, ex.Kind);
    }
}
