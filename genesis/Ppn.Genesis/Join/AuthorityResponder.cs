using System.Net.Sockets;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Noise;

namespace Ppn.Genesis.Join;

/// <summary>What the authority side saw: the node's proven key, what it asked, what it was given, what it acked.</summary>
public sealed record AuthorityExchange(byte[] NodePublicKey, RequestKind Kind, EnrolmentGrant? Grant, AckStatus? Ack, string? Failure)
{
    /// <summary>A claim the node refused after the hello (instead of message 1).</summary>
    public ClaimRefusal? Refusal { get; init; }

    /// <summary>The node closed (or reset, or stalled) before sending message 1 or a refusal: nothing was exchanged.</summary>
    public bool Unanswered { get; init; }

    /// <summary>The grant went out (or was being sent) but no authenticated ack came back: the node may have stored it.</summary>
    public bool OutcomeUnknown => Grant is not null && Ack is null;
}

/// <summary>
/// The authority's half (registrar and claim client share it): reads Noise IK message 1 (learning and
/// authenticating the node's static key), asks <c>decide</c> for the grant, answers with message 2 and
/// reads the node's ack. Used by the authority simulator in hw-tests and by `ppn claim`.
/// </summary>
public static class AuthorityResponder
{
    public static async Task<AuthorityExchange> RespondAsync(Socket connection, ReadOnlyMemory<byte> authorityNoisePrivateKey, RequestKind expectedKind,
        ReadOnlyMemory<byte> bannerNodeKey, Func<byte[], RequestKind, ulong, EnrolmentGrant?> decide, GenesisTimeouts timeouts, CancellationToken cancellation)
    {
        var m1 = await GenesisWire.ReceiveFrameAsync(connection, GenesisWire.MaxFrame, timeouts.Frame, cancellation);
        if (m1 is null) return new([], expectedKind, null, null, "the node closed the connection before its handshake message") { Unanswered = true };
        if (expectedKind == RequestKind.Claim && GenesisWire.TryParseClaimRefusal(m1, out var refusal))
        {
            return new([], expectedKind, null, null, refusal switch
            {
                ClaimRefusal.NotPinned => "the node's image does not pin this authority's key",
                ClaimRefusal.BadProof => "the node could not verify the hello's proof for its key",
                ClaimRefusal.Replayed => "the node saw this hello before (a replay)",
                ClaimRefusal.Busy => "the node is busy with other claims",
                _ => "the node was claimed meanwhile",
            }) { Refusal = refusal };
        }
        using var noise = NoiseIK.Responder(authorityNoisePrivateKey.Span, GenesisWire.Prologue(expectedKind, bannerNodeKey.Span));
        var payload = new byte[m1.Length];
        if (!noise.TryReadMessage1(m1, payload, out int p))
        {
            return new([], expectedKind, null, null, expectedKind == RequestKind.Claim
                ? "the node's handshake did not authenticate (wrong authority key, or the node is not the one whose banner was read)"
                : "the node's handshake did not authenticate");
        }
        var nodeKey = noise.RemoteStaticPublicKey.ToArray();
        if (!GenesisWire.TryParseRequest(payload.AsSpan(0, p), out var kind, out var sequence) || kind != expectedKind)
        {
            return new(nodeKey, expectedKind, null, null, "malformed or unexpected request");
        }
        var grant = decide(nodeKey, kind, sequence);
        if (grant is null) return new(nodeKey, kind, null, null, "no grant for this node");
        var body = new byte[EnrolmentGrant.Size];
        grant.WriteTo(body);
        var m2 = new byte[NoiseIK.Message2Overhead + body.Length];
        int n2 = noise.WriteMessage2(body, m2);
        using var transport = noise.Split();
        byte[]? ackFrame;
        try
        {
            await GenesisWire.SendFrameAsync(connection, m2.AsMemory(0, n2), timeouts.Frame, cancellation);
            ackFrame = await GenesisWire.ReceiveFrameAsync(connection, 64, timeouts.Frame, cancellation);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException || (e is OperationCanceledException && !cancellation.IsCancellationRequested))
        {
            // Once the grant may have reached the node, a lost connection leaves the outcome unknown, never "failed".
            return new(nodeKey, kind, grant, null, $"the connection was lost after the grant was sent ({e.Message})");
        }
        if (ackFrame is null) return new(nodeKey, kind, grant, null, "no ack from the node");
        var ack = new byte[ackFrame.Length];
        if (!transport.TryDecrypt(ackFrame, ack, out int a) || !GenesisWire.TryParseAck(ack.AsSpan(0, a), out var status))
        {
            return new(nodeKey, kind, grant, null, "the node's ack did not authenticate");
        }
        return new(nodeKey, kind, grant, status, null);
    }
}
