using System.Net;
using Ppn.Appliance.Cli;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Identity;
using Ppn.UefiVars.Testing;

namespace Ppn.Appliance.Tests;

/// <summary>What `ppn mesh status` says about the enrolment, read from (emulated) UEFI variables.</summary>
public sealed class StoredEnrolmentTests : IDisposable
{
    private readonly TempDirEfivarfs _efivarfs = new();
    private readonly string _config = Path.GetTempFileName();
    private readonly byte[] _signingPublic = new byte[32];
    private readonly byte[] _signingPrivate = new byte[64];

    public StoredEnrolmentTests()
    {
        Geralt.Ed25519.GenerateKeyPair(_signingPublic, _signingPrivate);
        var noise = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var hub = Convert.ToBase64String(Enumerable.Range(50, 32).Select(i => (byte)i).ToArray());
        File.WriteAllText(_config, $$"""
            { "format": 2,
              "authority": { "beaconSigningKeysEd25519": ["{{Convert.ToBase64String(_signingPublic)}}"], "noiseStaticKeysX25519": ["{{noise}}"] },
              "scanWindowSeconds": 30, "beaconPeriodSeconds": 5 }
            """);
    }

    public void Dispose()
    {
        _efivarfs.Dispose();
        File.Delete(_config);
    }

    private string Describe() => new StoredEnrolment(() => _efivarfs.OpenStore(), _config).Describe();

    [Fact]
    public void Before_genesis_there_is_no_identity()
    {
        Assert.StartsWith("not enrolled (no identity yet", Describe());
    }

    [Fact]
    public void A_signed_enrolment_bound_to_this_node_is_described()
    {
        using var identity = new IdentityStore(_efivarfs.OpenStore(), EntropyMixer.ForThisMachine()).LoadOrCreate();
        Assert.StartsWith("not enrolled (holding", Describe());
        var grant = new EnrolmentGrant(GrantStatus.Granted, 3, IPAddress.Parse("10.8.0.3"), IPEndPoint.Parse("192.0.2.10:51820"),
            new byte[32], 2, identity.Keys.PublicKey.ToArray(), 0, new byte[64]).SignedWith(_signingPrivate);
        new EnrolmentStore(_efivarfs.OpenStore()).Save(grant, EnrolmentOrigin.Join);
        Assert.Equal("node 3 at 10.8.0.3/24 by join, hub 192.0.2.10:51820, command-key epoch 2, receipt verified", Describe());
    }

    [Fact]
    public void An_enrolment_signed_by_another_authority_is_not_used()
    {
        using var identity = new IdentityStore(_efivarfs.OpenStore(), EntropyMixer.ForThisMachine()).LoadOrCreate();
        var otherPublic = new byte[32];
        var otherPrivate = new byte[64];
        Geralt.Ed25519.GenerateKeyPair(otherPublic, otherPrivate);
        var grant = new EnrolmentGrant(GrantStatus.Granted, 3, IPAddress.Parse("10.8.0.3"), IPEndPoint.Parse("192.0.2.10:51820"),
            new byte[32], 2, identity.Keys.PublicKey.ToArray(), 0, new byte[64]).SignedWith(otherPrivate);
        new EnrolmentStore(_efivarfs.OpenStore()).Save(grant, EnrolmentOrigin.Claim);
        Assert.StartsWith("not used: the stored enrolment is not bound to this node's key by a pinned authority", Describe());
    }
}
