using System.Net;
using Ppn.Genesis;
using Ppn.Mesh.Sync;
using Ppn.UefiVars;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>The peer-set serial floor in a UEFI variable (docs/protocol/sync.md §Node state), on the temp-dir efivarfs twin.</summary>
public class UefiSerialFloorTests
{
    [Fact]
    public void After_a_reboot_that_lost_the_set_file_an_older_set_is_still_refused()
    {
        using var efivarfs = new TempDirEfivarfs();
        var seed = Enumerable.Range(0x20, 32).Select(i => (byte)i).ToArray();
        using var authority = AuthorityCredential.Create(seed, Enumerable.Range(0x60, 32).Select(i => (byte)i).ToArray(),
            IPEndPoint.Parse("203.0.113.7:51820"), new byte[32], 0);
        byte[] Set(ulong serial) => PeerSet.Sign(serial, 0, authority.HubPublicKey, [], [], authority.SigningPrivateKey).Bytes;

        var before = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore(), floor: new UefiSerialFloor(efivarfs));
        Assert.Equal(SetVerdict.Accepted, before.Offer(Set(7), out _));

        // The reboot: RAM (the set's file) is gone, the UEFI variable is not.
        var after = new PeerSetState(authority.Trust, authority.HubPublicKey, new MemoryPeerSetStore(), floor: new UefiSerialFloor(efivarfs));
        Assert.Null(after.Current);
        Assert.Equal(7UL, after.Serial);
        Assert.Equal(0UL, after.HeldSerial); // so its pull asks for the current set, not only a newer one
        Assert.Equal(SetVerdict.NotNewer, after.Offer(Set(6), out var older));
        Assert.Contains("below 7, the highest accepted before this boot", older);
        // The set it held before the reboot (the authority has published nothing since) is taken again.
        Assert.Equal(SetVerdict.Accepted, after.Offer(Set(7), out _));
        Assert.Equal(SetVerdict.NotNewer, after.Offer(Set(7), out _));
        Assert.Equal(SetVerdict.Accepted, after.Offer(Set(8), out _));
        Assert.Equal(8UL, new UefiSerialFloor(efivarfs).Load());
    }

    [Fact]
    public void A_torn_record_reads_as_no_floor()
    {
        using var efivarfs = new TempDirEfivarfs();
        var record = new byte[16];
        record[7] = 9; // serial 9 without its complement
        efivarfs.Write(UefiSerialFloor.Variable, VariableAttributes.NonVolatileBootRuntime, record, WriteMode.CreateOrReplace);
        Assert.Equal(0UL, new UefiSerialFloor(efivarfs).Load());
    }
}
