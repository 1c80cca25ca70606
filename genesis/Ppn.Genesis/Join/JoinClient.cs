using System.Net.Sockets;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;

namespace Ppn.Genesis.Join;

/// <summary>
/// Mesh join over TCP to the registrar named in a verified beacon. TCP (not UDP) because the reply carries a
/// 180-byte signed grant and an ack must follow in order; the registrar keys assignments by the node's
/// public key, so a retry after a lost reply is given the same assignment. Bounded: a fixed number of
/// attempts, each with connect and per-frame timeouts.
/// </summary>
public sealed class JoinClient
{
    private readonly AuthorityTrust _trust;
    private readonly EnrolmentStore _store;
    private readonly GenesisTimeouts _timeouts;
    private readonly int _attempts;
    private readonly TimeSpan _retryDelay;
    private readonly Action<string> _log;

    public JoinClient(AuthorityTrust trust, EnrolmentStore store, Action<string> log, GenesisTimeouts? timeouts = null, int attempts = 3, TimeSpan? retryDelay = null)
    {
        _trust = trust;
        _store = store;
        _log = log;
        _timeouts = timeouts ?? new GenesisTimeouts();
        _attempts = attempts;
        _retryDelay = retryDelay ?? TimeSpan.FromSeconds(1);
    }

    public EnrolmentOutcome Join(NodeKeyPair node, VerifiedBeacon beacon, CancellationToken cancellation)
        => JoinAsync(node, beacon, cancellation).GetAwaiter().GetResult();

    public async Task<EnrolmentOutcome> JoinAsync(NodeKeyPair node, VerifiedBeacon beacon, CancellationToken cancellation)
    {
        var last = EnrolmentOutcome.Failed("no attempt made");
        for (int attempt = 1; attempt <= _attempts && !cancellation.IsCancellationRequested; attempt++)
        {
            last = await AttemptAsync(node, beacon, cancellation);
            if (last.Succeeded)
            {
                return last;
            }
            _log($"join attempt {attempt}/{_attempts} to [{beacon.Registrar.Address}]:{beacon.Registrar.Port} failed: {last.Failure}");
            if (attempt < _attempts)
            {
                try { await Task.Delay(_retryDelay, cancellation); } catch (OperationCanceledException) { break; }
            }
        }
        return last;
    }

    private async Task<EnrolmentOutcome> AttemptAsync(NodeKeyPair node, VerifiedBeacon beacon, CancellationToken cancellation)
    {
        using var socket = new Socket(beacon.Registrar.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                connect.CancelAfter(_timeouts.Connect);
                await socket.ConnectAsync(beacon.Registrar, connect.Token);
            }
            return await NodeEnrolment.RunAsync(socket, node, beacon.AuthorityNoiseKey, _trust, RequestKind.Join, beacon.Sequence, _store, _timeouts, cancellation);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return EnrolmentOutcome.Failed("connect timed out");
        }
        catch (SocketException e)
        {
            return EnrolmentOutcome.Failed($"{e.SocketErrorCode}: {e.Message}");
        }
    }
}
