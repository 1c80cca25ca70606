using Ppn.Genesis.Enrolment;
using Ppn.Mesh.Sync;

namespace Ppn.Authority.Tests;

/// <summary>The authority's side of mesh sync (docs/protocol/sync.md §Authority): every registry change is the next signed set.</summary>
public sealed class PeerSetPublisherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppn-peerset-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Key(byte b) => Enumerable.Repeat(b, 32).ToArray();

    [Fact]
    public void Each_binding_and_revocation_publishes_a_higher_serial_that_verifies_and_a_revoked_key_is_refused_for_ever()
    {
        using var keys = GenesisLab.NewAuthority();
        var path = Path.Combine(_dir, "registry.db");
        ulong last;
        using (var registry = PairingRegistry.Open(path, keys))
        using (var publisher = new PeerSetPublisher(registry, keys, () => 1_700_000_000))
        {
            var state = new PeerSetState(keys.Trust, keys.HubPublicKey, new MemoryPeerSetStore());
            Assert.Equal(SetVerdict.Accepted, state.Offer(publisher.Current!.Bytes, out _));
            Assert.Empty(state.Current!.Grants);
            var changed = publisher.Changed;
            registry.Assign(Key(1), BindingOrigin.Join, 1);
            Assert.True(changed.IsCompleted);
            registry.Assign(Key(1), BindingOrigin.Claim, 2); // the same binding again: no new set
            registry.Assign(Key(2), BindingOrigin.Join, 3);
            Assert.Equal(SetVerdict.Accepted, state.Offer(publisher.Current!.Bytes, out _));
            Assert.Equal(2, state.Current!.Grants.Count);
            Assert.Equal(3UL, state.Serial);

            var revocation = registry.Revoke(Key(1), 4);
            Assert.NotNull(revocation);
            Assert.Null(registry.Revoke(Key(1), 5)); // already revoked
            Assert.Equal(SetVerdict.Accepted, state.Offer(publisher.Current!.Bytes, out _));
            Assert.True(state.Current!.IsRevoked(Key(1)));
            Assert.Equal("10.8.0.3", Assert.Single(state.Current.Grants).Address.ToString());
            Assert.Equal(GrantStatus.Refused, registry.Assign(Key(1), BindingOrigin.Join, 6).Status);
            // The freed address goes to the next node.
            Assert.Equal("10.8.0.2", registry.Assign(Key(3), BindingOrigin.Join, 7).Address.ToString());
            last = publisher.Current!.Serial;
        }
        // A restarted authority never signs a serial twice.
        using (var registry = PairingRegistry.Open(path, keys))
        using (var publisher = new PeerSetPublisher(registry, keys, () => 1_700_000_000))
        {
            Assert.Equal(last + 1, publisher.Current!.Serial);
            Assert.Single(publisher.Current.Revocations);
            Assert.Equal(GrantStatus.Refused, registry.Assign(Key(1), BindingOrigin.Claim, 8).Status);
        }
    }
}
