using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;

namespace Ppn.Genesis.Claim;

/// <summary>
/// The authenticated claim on 9443 (after the banner, docs/protocol/genesis.md §Claim): the authority sends an
/// 88-byte hello naming its Noise key and proving it holds the private half (a tag keyed with the static-static
/// X25519 secret for this node's key, checked with one hash); only then does the node spend anything on the
/// peer: it protects the connection from eviction, takes one of <see cref="HoldingOptions.MaxConcurrentHandshakes"/>
/// handshake slots and runs the same Noise IK exchange as a join with the banner's key in the prologue. A hello
/// that does not prove a pinned key is answered with a refusal frame and costs the node nothing more.
/// </summary>
public sealed class ClaimHandler : IClaimHandler, IDisposable
{
    /// <summary>Hello nonces remembered per holding run (a replayed hello is refused); only proven hellos are remembered.</summary>
    public const int RememberedNonces = 4096;

    private readonly NodeKeyPair _node;
    private readonly AuthorityTrust _trust;
    private readonly EnrolmentStore _store;
    private readonly Action<string> _log;
    private readonly TaskCompletionSource<EnrolmentGrant> _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(byte[] AuthorityKey, byte[] Secret)> _helloSecrets = [];
    private readonly HashSet<UInt128> _nonces = [];
    private readonly Queue<UInt128> _nonceOrder = new();
    private SemaphoreSlim? _handshakes;
    private long _refusedHellos;
    private volatile byte[]? _claimedBy;

    public ClaimHandler(NodeKeyPair node, AuthorityTrust trust, EnrolmentStore store, Action<string> log)
    {
        _node = node;
        _trust = trust;
        _store = store;
        _log = log;
        // The hello secret for each pinned key is fixed for this node: computed once, so checking a hello is one keyed hash.
        foreach (var key in trust.NoiseKeys)
        {
            var secret = GC.AllocateArray<byte>(32, pinned: true);
            if (GenesisWire.TryClaimHelloSecret(secret, node.PrivateKey, key)) _helloSecrets.Add((key, secret));
        }
    }

    /// <summary>Completes with the stored grant once a claim succeeded.</summary>
    public Task<EnrolmentGrant> Claimed => _claimed.Task;

    /// <summary>The Noise key of the authority whose claim completed (for the enrolled banner); null before.</summary>
    public byte[]? ClaimedBy => _claimedBy;

    /// <summary>Hellos answered with a refusal (unpinned key, bad proof, replay, busy, claimed already).</summary>
    public long RefusedHellos => Interlocked.Read(ref _refusedHellos);

    public async Task HandleAsync(HoldingConnection holding, CancellationToken cancellation)
    {
        if (_claimed.Task.IsCompleted) return; // the enrolled banner said so; nothing more to read
        var (connection, options) = (holding.Socket, holding.Options);
        var hello = await GenesisWire.ReceiveFrameAsync(connection, GenesisWire.ClaimHelloSize, options.HelloTimeout, cancellation);
        if (hello is null) return;
        var verdict = Check(hello, out var authorityKey);
        if (verdict is { } refusal)
        {
            await RefuseAsync(connection, refusal, options, cancellation);
            return;
        }
        // Proven: this peer holds a pinned authority's private key. From here on it is never evicted.
        holding.Protect();
        var handshakes = LazyInitializer.EnsureInitialized(ref _handshakes, () => new SemaphoreSlim(Math.Max(1, options.MaxConcurrentHandshakes)));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(options.HandshakeTimeout);
        try
        {
            await handshakes.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            await RefuseAsync(connection, ClaimRefusal.Busy, options, cancellation);
            return;
        }
        try
        {
            if (_claimed.Task.IsCompleted)
            {
                await RefuseAsync(connection, ClaimRefusal.AlreadyClaimed, options, cancellation);
                return;
            }
            var timeouts = new GenesisTimeouts { Frame = options.HandshakeTimeout };
            var outcome = await NodeEnrolment.RunAsync(connection, _node, authorityKey!, _trust, RequestKind.Claim, 0, _store, timeouts, deadline.Token);
            if (outcome.Succeeded)
            {
                _log($"claimed: node {outcome.Grant!.NodeId} address {outcome.Grant.Address} by authority {Convert.ToBase64String(authorityKey!)} (enrolment stored)");
                _claimedBy = authorityKey;
                _claimed.TrySetResult(outcome.Grant);
            }
            else
            {
                _log($"claim attempt failed: {outcome.Failure}");
            }
        }
        finally
        {
            handshakes.Release();
        }
    }

    // Null when the hello proves a pinned key (and its nonce is new); else why not.
    private ClaimRefusal? Check(byte[] hello, out byte[]? authorityKey)
    {
        authorityKey = null;
        if (!GenesisWire.TryParseClaimHello(hello, out var named, out var nonce)) return ClaimRefusal.BadProof;
        byte[]? secret = null;
        foreach (var (key, s) in _helloSecrets)
        {
            if (CryptographicOperations.FixedTimeEquals(key, named))
            {
                (authorityKey, secret) = (key, s);
            }
        }
        if (secret is null) return ClaimRefusal.NotPinned;
        if (!GenesisWire.ClaimHelloTagMatches(hello, secret, _node.PublicKey)) return ClaimRefusal.BadProof;
        var id = BinaryPrimitives.ReadUInt128BigEndian(nonce);
        lock (_nonces)
        {
            if (!_nonces.Add(id)) return ClaimRefusal.Replayed;
            _nonceOrder.Enqueue(id);
            if (_nonceOrder.Count > RememberedNonces) _nonces.Remove(_nonceOrder.Dequeue());
        }
        return null;
    }

    private async Task RefuseAsync(Socket connection, ClaimRefusal reason, HoldingOptions options, CancellationToken cancellation)
    {
        Interlocked.Increment(ref _refusedHellos);
        var frame = new byte[GenesisWire.ClaimRefusalSize];
        GenesisWire.WriteClaimRefusal(frame, reason);
        await GenesisWire.SendFrameAsync(connection, frame, options.IdleTimeout, cancellation);
    }

    public void Dispose()
    {
        // The semaphore is left alone: connections still finishing may release it, and it holds no wait handle.
        foreach (var (_, secret) in _helloSecrets) CryptographicOperations.ZeroMemory(secret);
    }
}
