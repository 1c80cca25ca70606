using Ppn.Genesis.Enrolment;

namespace Ppn.Authority.Tests;

public sealed class PairingRegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-registry-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Key(byte b) => Enumerable.Repeat(b, 32).ToArray();

    [Fact]
    public void The_same_node_key_gets_the_same_grant_bytes_also_after_reopening_the_file()
    {
        using var keys = GenesisLab.NewAuthority();
        var path = Path.Combine(_dir, "registry.db");
        byte[] first = new byte[EnrolmentGrant.Size], again = new byte[EnrolmentGrant.Size];
        using (var registry = PairingRegistry.Open(path, keys))
        {
            registry.Assign(Key(1), BindingOrigin.Join, 1_700_000_000).WriteTo(first);
            var other = registry.Assign(Key(2), BindingOrigin.Claim, 1_700_000_100);
            Assert.Equal("10.8.0.3", other.Address.ToString());
            Assert.Equal(2UL, other.NodeId);
        }
        using (var registry = PairingRegistry.Open(path, keys))
        {
            var grant = registry.Assign(Key(1), BindingOrigin.Claim, 1_800_000_000); // later, and as a claim: still the first binding
            grant.WriteTo(again);
            Assert.Equal(first, again);
            Assert.True(grant.IsBoundTo(Key(1), keys.Trust));
            Assert.Equal(["10.8.0.2", "10.8.0.3"], registry.Bindings().Select(b => b.Address.ToString()));
            Assert.Equal(BindingOrigin.Join, registry.Bindings()[0].Origin);
        }
    }

    [Fact]
    public void A_registry_opened_with_another_authority_is_refused()
    {
        using var keys = GenesisLab.NewAuthority();
        using var other = GenesisLab.NewAuthority();
        var path = Path.Combine(_dir, "registry.db");
        PairingRegistry.Open(path, keys).Dispose();
        var e = Assert.Throws<InvalidOperationException>(() => PairingRegistry.Open(path, other));
        Assert.Contains("registry of authority", e.Message);
    }

    [Fact]
    public void A_full_mesh_gets_a_signed_refusal_and_nothing_is_stored()
    {
        using var keys = GenesisLab.NewAuthority();
        using var registry = PairingRegistry.Open(Path.Combine(_dir, "registry.db"), keys);
        for (int i = 0; i < 253; i++)
        {
            var k = new byte[32];
            k[0] = (byte)i;
            k[1] = 1;
            Assert.Equal(GrantStatus.Granted, registry.Assign(k, BindingOrigin.Join, 1).Status);
        }
        var refusal = registry.Assign(Key(9), BindingOrigin.Join, 1);
        Assert.Equal(GrantStatus.Refused, refusal.Status);
        Assert.Equal(RefusalReason.AddressPoolFull, refusal.Reason);
        Assert.True(refusal.IsBoundTo(Key(9), keys.Trust));
        Assert.Equal(253, registry.Bindings().Count);
    }

    [Fact]
    public void A_revoked_key_gets_a_signed_refusal_with_reason_3_revoked_and_stays_out()
    {
        using var keys = GenesisLab.NewAuthority();
        using var registry = PairingRegistry.Open(Path.Combine(_dir, "registry.db"), keys);
        Assert.Equal(GrantStatus.Granted, registry.Assign(Key(5), BindingOrigin.Join, 1).Status);
        Assert.NotNull(registry.Revoke(Key(5), 2));
        foreach (var origin in new[] { BindingOrigin.Join, BindingOrigin.Claim })
        {
            var refusal = registry.Assign(Key(5), origin, 3);
            Assert.Equal(GrantStatus.Refused, refusal.Status);
            Assert.Equal(RefusalReason.Revoked, refusal.Reason);
            Assert.Equal(3, (byte)refusal.Reason); // genesis.md §Grant: "3 revoked"
            Assert.True(refusal.IsBoundTo(Key(5), keys.Trust));
        }
    }

    [Fact]
    public void A_node_id_beyond_the_14_bit_command_target_is_never_granted()
    {
        using var keys = GenesisLab.NewAuthority();
        var path = Path.Combine(_dir, "registry.db");
        using (var registry = PairingRegistry.Open(path, keys))
        {
            registry.Assign(Key(1), BindingOrigin.Join, 1_700_000_000);
        }
        // An operator's edit (or an import) left the largest addressable ID in use: the next one would be 16384.
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = $"UPDATE bindings SET node_id = {EnrolmentGrant.MaxNodeId}";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using (var registry = PairingRegistry.Open(path, keys))
        {
            var grant = registry.Assign(Key(2), BindingOrigin.Claim, 1_700_000_100);
            Assert.Equal(GrantStatus.Refused, grant.Status);
            Assert.Equal(RefusalReason.NodeIdsExhausted, grant.Reason);
            Assert.Single(registry.Bindings());
        }
    }
}
