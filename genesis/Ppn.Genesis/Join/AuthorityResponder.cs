using System.Net.Sockets;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Noise;

namespace Ppn.Genesis.Join;

/// <summary>What the authority side saw: the node's proven key, what it asked, what it was given, what it acked.</summary>
public sealed record AuthorityExchange(byte[] NodePublicKey, RequestKind Kind, EnrolmentGrant? Grant, AckStatus? Ack, string? Failure);

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
        if (m1 is null) return new([], expectedKind, null, null, "no handshake message from the node");
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
        await GenesisWire.SendFrameAsync(connection, m2.AsMemory(0, n2), timeouts.Frame, cancellation);
        using var transport = noise.Split();
        var ackFrame = await GenesisWire.ReceiveFrameAsync(connection, 64, timeouts.Frame, cancellation);
        if (ackFrame is null) return new(nodeKey, kind, grant, null, "no ack from the node");
        var ack = new byte[ackFrame.Length];
        if (!transport.TryDecrypt(ackFrame, ack, out int a) || !GenesisWire.TryParseAck(ack.AsSpan(0, a), out var status))
        {
            return new(nodeKey, kind, grant, null, "the node's ack did not authenticate");
        }
        return new(nodeKey, kind, grant, status, null);
    }
}
