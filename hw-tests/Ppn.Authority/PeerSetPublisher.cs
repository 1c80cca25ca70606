using System.Net;
using Ppn.Genesis;
using Ppn.Mesh.Sync;

namespace Ppn.Authority;

/// <summary>
/// The authority's side of mesh sync (docs/protocol/sync.md §Authority): every change of the pairing registry (a new
/// binding, a re-issue, a revocation) is signed as the next peer set, with a serial persisted in the registry, and
/// served to relays by a <see cref="SyncServer"/> on the authority's sync port.
/// </summary>
public sealed class PeerSetPublisher : IPeerSetSource, IDisposable
{
    private readonly PairingRegistry _registry;
    private readonly AuthorityCredential _credential;
    private readonly Func<ulong> _clock;
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PeerSetPublisher(PairingRegistry registry, AuthorityCredential credential, Func<ulong> clock)
    {
        _registry = registry;
        _credential = credential;
        _clock = clock;
        Publish();
        _registry.Changed += OnRegistryChanged;
    }

    public PeerSet? Current { get; private set; }
    public Task Changed { get { lock (_gate) return _changed.Task; } }

    /// <summary>Signs the registry as it is now as the next serial and serves it.</summary>
    public PeerSet Publish()
    {
        TaskCompletionSource fire;
        PeerSet set;
        lock (_gate)
        {
            var (serial, grants, revocations) = _registry.NextPeerSet();
            set = PeerSet.Sign(serial, _clock(), _credential.HubPublicKey, grants, revocations, _credential.SigningPrivateKey);
            Current = set;
            fire = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fire.TrySetResult();
        return set;
    }

    private void OnRegistryChanged() => Publish();

    public void Dispose() => _registry.Changed -= OnRegistryChanged;
}
