using System.Net.Sockets;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;

namespace Ppn.Genesis.Claim;

/// <summary>
/// The authenticated claim on 9443 (after the banner): the authority sends a 40-byte hello naming its
/// Noise key (must be pinned), then the node runs the same Noise IK exchange as a join with the banner's key
/// in the prologue. The handshake as a whole must finish within <see cref="HoldingOptions.HandshakeTimeout"/>;
/// nothing the peer sends is read beyond one hello and the frames of the exchange.
/// </summary>
public sealed class ClaimHandler : IClaimHandler
{
    private readonly NodeKeyPair _node;
    private readonly AuthorityTrust _trust;
    private readonly EnrolmentStore _store;
    private readonly Action<string> _log;
    private readonly TaskCompletionSource<EnrolmentGrant> _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _busy;

    public ClaimHandler(NodeKeyPair node, AuthorityTrust trust, EnrolmentStore store, Action<string> log)
    {
        _node = node;
        _trust = trust;
        _store = store;
        _log = log;
    }

    /// <summary>Completes with the stored grant once a claim succeeded.</summary>
    public Task<EnrolmentGrant> Claimed => _claimed.Task;

    private byte[]? PinnedKeyFromHello(byte[] hello)
        => GenesisWire.TryParseClaimHello(hello, out var key) && _trust.IsPinnedNoiseKey(key) ? key.ToArray() : null;

    public async Task HandleAsync(Socket connection, HoldingOptions options, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(options.HandshakeTimeout);
        var timeouts = new GenesisTimeouts { Frame = options.HandshakeTimeout };
        var hello = await GenesisWire.ReceiveFrameAsync(connection, GenesisWire.ClaimHelloSize, options.HandshakeTimeout, deadline.Token);
        var key = hello is null ? null : PinnedKeyFromHello(hello);
        if (key is null)
        {
            return;
        }
        // One claim at a time: a second authenticated claimant waits its turn by being refused now.
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0 || _claimed.Task.IsCompleted) return;
        try
        {
            var outcome = await NodeEnrolment.RunAsync(connection, _node, key, _trust, RequestKind.Claim, 0, _store, timeouts, deadline.Token);
            if (outcome.Succeeded)
            {
                _log($"claimed: node {outcome.Grant!.NodeId} address {outcome.Grant.Address} (enrolment stored)");
                _claimed.TrySetResult(outcome.Grant);
            }
            else
            {
                _log($"claim attempt failed: {outcome.Failure}");
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }
}
