using System.Net;
using System.Net.Sockets;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;
using Ppn.Genesis.Noise;

namespace Ppn.Genesis.Testing;

/// <summary>A holding node's listener on [::1] (an ephemeral port) with the banner and claim handler a test gives it.</summary>
public static class LoopbackHolding
{
    /// <summary>
    /// Holding deadlines for tests about who gets in, not about how fast a loaded 2-core machine answers: they bound
    /// the waits, they are not what is tested.
    /// </summary>
    public static readonly HoldingOptions Relaxed = new() { HelloTimeout = TimeSpan.FromSeconds(15), HandshakeTimeout = TimeSpan.FromSeconds(15), MaxConnectionLifetime = TimeSpan.FromSeconds(40) };

    /// <summary>The claiming (or joining) side's counterpart of <see cref="Relaxed"/>.</summary>
    public static readonly GenesisTimeouts Generous = new() { Connect = TimeSpan.FromSeconds(20), Frame = TimeSpan.FromSeconds(20) };

    public static HoldingListener Start(Func<string> banner, IClaimHandler claims, HoldingOptions? options = null) =>
        HoldingListener.Start([new IPEndPoint(IPAddress.IPv6Loopback, 0)], banner, options ?? new HoldingOptions(), claims, _ => { });
}

/// <summary>
/// A node that loses the claim's ack: it reads the claim hello, sends message 1 as a node does, reads message 2 (the
/// grant), then resets the connection instead of sending the ack, so the authority cannot know the outcome.
/// </summary>
public sealed class AckLosingNode(NodeKeyPair node, byte[] authorityKey, TimeSpan? frameLimit = null) : IClaimHandler
{
    private readonly TimeSpan _limit = frameLimit ?? TimeSpan.FromSeconds(20);
    private volatile bool _grantReceived;

    /// <summary>The grant (message 2) arrived before the reset.</summary>
    public bool GrantReceived => _grantReceived;

    public async Task HandleAsync(HoldingConnection connection, CancellationToken cancellation)
    {
        var socket = connection.Socket;
        if (await GenesisWire.ReceiveFrameAsync(socket, GenesisWire.ClaimHelloSize, _limit, cancellation) is null) return;
        using var noise = NoiseIK.Initiator(node.PrivateKey, authorityKey, GenesisWire.Prologue(RequestKind.Claim, node.PublicKey));
        var request = new byte[GenesisWire.RequestSize];
        GenesisWire.WriteRequest(request, RequestKind.Claim, 0);
        var m1 = new byte[NoiseIK.Message1Overhead + request.Length];
        int n = noise.WriteMessage1(request, m1);
        await GenesisWire.SendFrameAsync(socket, m1.AsMemory(0, n), _limit, cancellation);
        _grantReceived = await GenesisWire.ReceiveFrameAsync(socket, GenesisWire.MaxFrame, _limit, cancellation) is not null;
        throw new SocketException((int)SocketError.ConnectionReset); // the listener resets the connection: no ack
    }
}
