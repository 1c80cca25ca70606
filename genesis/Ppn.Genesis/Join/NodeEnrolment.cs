using System.Net.Sockets;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Noise;

namespace Ppn.Genesis.Join;

public sealed record GenesisTimeouts
{
    /// <summary>Connecting to the registrar.</summary>
    public TimeSpan Connect { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Each frame of the handshake, start to end.</summary>
    public TimeSpan Frame { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>The outcome of one join or claim exchange, from the node's side.</summary>
public sealed record EnrolmentOutcome(EnrolmentGrant? Grant, string? Failure)
{
    public bool Succeeded => Grant is not null;
    /// <summary>Set when the authority sent a signed refusal (final: a join is not retried after it).</summary>
    public RefusalReason? Refusal { get; init; }
    /// <summary>Attempts made (join: the first included; 1 for a claim).</summary>
    public int Attempts { get; init; } = 1;
    public static EnrolmentOutcome Failed(string why) => new(null, why);
}

/// <summary>
/// The node's half of the exchange shared by join (node dials the registrar) and claim (the authority dials
/// the node's 9443): Noise IK message 1 with the request, message 2 with the grant, then a transport
/// message with the ack. The grant is stored (and read back) BEFORE the ack says Persisted and before the
/// caller may use it; anything unauthenticated ends the exchange with nothing stored.
/// </summary>
public static class NodeEnrolment
{
    public static async Task<EnrolmentOutcome> RunAsync(Socket connection, NodeKeyPair node, ReadOnlyMemory<byte> authorityNoiseKey, AuthorityTrust trust,
        RequestKind kind, ulong beaconSequence, EnrolmentStore store, GenesisTimeouts timeouts, CancellationToken cancellation)
    {
        if (!trust.IsPinnedNoiseKey(authorityNoiseKey.Span)) return EnrolmentOutcome.Failed("the authority Noise key is not pinned in this image");
        using var noise = NoiseIK.Initiator(node.PrivateKey, authorityNoiseKey.Span, GenesisWire.Prologue(kind, node.PublicKey));
        var request = new byte[GenesisWire.RequestSize];
        GenesisWire.WriteRequest(request, kind, beaconSequence);
        var m1 = new byte[NoiseIK.Message1Overhead + request.Length];
        int n1 = noise.WriteMessage1(request, m1);
        await GenesisWire.SendFrameAsync(connection, m1.AsMemory(0, n1), timeouts.Frame, cancellation);

        var m2 = await GenesisWire.ReceiveFrameAsync(connection, GenesisWire.MaxFrame, timeouts.Frame, cancellation);
        if (m2 is null) return EnrolmentOutcome.Failed("no reply from the authority within the frame timeout");
        var payload = new byte[m2.Length];
        if (!noise.TryReadMessage2(m2, payload, out int p)) return EnrolmentOutcome.Failed("the reply did not authenticate as the pinned authority key");
        using var transport = noise.Split();

        AckStatus ack;
        EnrolmentOutcome outcome;
        if (!EnrolmentGrant.TryParse(payload.AsSpan(0, p), out var grant, out var error))
        {
            (ack, outcome) = (AckStatus.Rejected, EnrolmentOutcome.Failed($"malformed grant: {error}"));
        }
        else if (!grant!.IsBoundTo(node.PublicKey, trust))
        {
            (ack, outcome) = (AckStatus.Rejected, EnrolmentOutcome.Failed("the grant's receipt is not a pinned authority's signature over this node's key"));
        }
        else if (grant.Status != GrantStatus.Granted)
        {
            (ack, outcome) = (AckStatus.Refused, EnrolmentOutcome.Failed($"the authority refused this node: {grant.Reason.Describe()}") with { Refusal = grant.Reason });
        }
        else
        {
            try
            {
                store.Save(grant, kind == RequestKind.Join ? EnrolmentOrigin.Join : EnrolmentOrigin.Claim);
                (ack, outcome) = (AckStatus.Persisted, new EnrolmentOutcome(grant, null));
            }
            catch (EnrolmentException e)
            {
                (ack, outcome) = (AckStatus.StorageFailed, EnrolmentOutcome.Failed(e.Message));
            }
        }
        var ackPlain = new byte[GenesisWire.AckSize];
        GenesisWire.WriteAck(ackPlain, ack);
        var ackCipher = new byte[GenesisWire.AckSize + NoiseCipherState.TagSize];
        int n3 = transport.Encrypt(ackPlain, ackCipher);
        try
        {
            await GenesisWire.SendFrameAsync(connection, ackCipher.AsMemory(0, n3), timeouts.Frame, cancellation);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The ack is a courtesy: the grant is already stored; a lost ack changes nothing on the node.
        }
        return outcome;
    }
}
