using System.Net.Sockets;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;

namespace Ppn.Genesis.Join;

/// <summary>
/// Mesh join over TCP to the registrar named in a verified beacon. TCP (not UDP) because the reply carries a
/// 180-byte signed grant and an ack must follow in order; the registrar keys assignments by the node's
/// public key, so a retry after a lost reply is given the same assignment. Bounded: attempts with connect and
/// per-frame timeouts, retried with jittered exponential back-off within a time budget (<see cref="JoinRetryPolicy"/>);
/// a signed refusal ends it at once.
/// </summary>
public sealed class JoinClient
{
    private readonly AuthorityTrust _trust;
    private readonly EnrolmentStore _store;
    private readonly GenesisTimeouts _timeouts;
    private readonly JoinRetryPolicy _retry;
    private readonly Action<string> _log;

    /// <param name="attempts">With <paramref name="retryDelay"/>: a fixed delay, no jitter (tests). Otherwise <paramref name="retry"/> decides.</param>
    public JoinClient(AuthorityTrust trust, EnrolmentStore store, Action<string> log, GenesisTimeouts? timeouts = null, int? attempts = null, TimeSpan? retryDelay = null,
        JoinRetryPolicy? retry = null)
    {
        _trust = trust;
        _store = store;
        _log = log;
        _timeouts = timeouts ?? new GenesisTimeouts();
        _retry = retry ?? new JoinRetryPolicy();
        if (retryDelay is { } fixedDelay) _retry = JoinRetryPolicy.Fixed(attempts ?? _retry.MaxAttempts, fixedDelay) with { Budget = _retry.Budget, Time = _retry.Time };
        else if (attempts is { } n) _retry = _retry with { MaxAttempts = n };
    }

    public EnrolmentOutcome Join(NodeKeyPair node, VerifiedBeacon beacon, CancellationToken cancellation)
        => JoinAsync(node, beacon, cancellation).GetAwaiter().GetResult();

    public async Task<EnrolmentOutcome> JoinAsync(NodeKeyPair node, VerifiedBeacon beacon, CancellationToken cancellation)
    {
        var last = EnrolmentOutcome.Failed("no attempt made");
        var time = _retry.Time;
        long start = time.GetTimestamp();
        int max = Math.Max(1, _retry.MaxAttempts);
        for (int attempt = 1; attempt <= max && !cancellation.IsCancellationRequested; attempt++)
        {
            last = await AttemptAsync(node, beacon, cancellation) with { Attempts = attempt };
            if (last.Succeeded)
            {
                if (attempt > 1) _log($"joined at attempt {attempt}/{max}, {time.GetElapsedTime(start).TotalSeconds:0.0} s after the first");
                return last;
            }
            if (last.Refusal is not null)
            {
                return last; // signed and final: asking again gets the same answer
            }
            if (attempt == max)
            {
                _log($"join attempt {attempt}/{max} to [{beacon.Registrar.Address}]:{beacon.Registrar.Port} failed: {last.Failure}; no attempts left");
                break;
            }
            var delay = _retry.DelayBefore(attempt + 1);
            if (_retry.Budget is { } budget && time.GetElapsedTime(start) + delay > budget)
            {
                _log($"join attempt {attempt}/{max} to [{beacon.Registrar.Address}]:{beacon.Registrar.Port} failed: {last.Failure}; the {budget.TotalSeconds:0.#} s join budget is spent");
                break;
            }
            _log($"join attempt {attempt}/{max} to [{beacon.Registrar.Address}]:{beacon.Registrar.Port} failed: {last.Failure}; retrying in {delay.TotalSeconds:0.00} s");
            try { await Task.Delay(delay, time, cancellation); } catch (OperationCanceledException) { break; }
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
