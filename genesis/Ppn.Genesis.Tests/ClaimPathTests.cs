using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Identity;
using Ppn.Genesis.Join;
using Ppn.Genesis.Noise;
using Ppn.Genesis.Testing;
using Ppn.UefiVars.Testing;

namespace Ppn.Genesis.Tests;

/// <summary>
/// The claim path under attack on loopback (issue 13): a hello naming the pinned key without its proof, replays,
/// a lost ack, the enrolled banner. Node side = the real holding listener and claim handler.
/// </summary>
public sealed class ClaimPathTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirEfivarfs _nvram = new();
    private readonly NodeKeyPair _node = NodeKeyPair.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private readonly AuthorityCredential _authority = AuthorityCredential.Generate(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51820), new byte[32], 3);
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));

    public void Dispose()
    {
        _stop.Dispose();
        _authority.Dispose();
        _node.Dispose();
        _nvram.Dispose();
    }

    private EnrolmentGrant? GrantFor(byte[] key) => _authority.Grant(key, 5, IPAddress.Parse("10.8.0.5"), 1_700_000_000);

    // Generous timeouts on both sides: these tests are about who gets in, not about how fast a loaded machine answers.
    private static readonly GenesisTimeouts Generous = LoopbackHolding.Generous;
    private static readonly HoldingOptions Relaxed = LoopbackHolding.Relaxed;

    private HoldingListener Holding(IClaimHandler claims, HoldingOptions? options = null, Func<string>? banner = null) =>
        LoopbackHolding.Start(banner ?? (() => GenesisBanner.Format(_node.PublicKeyBase64)), claims, options ?? Relaxed);

    private ClaimHandler Claims() => new(_node, _authority.Trust, new EnrolmentStore(_nvram), _ => { });

    private static async Task<Socket> AfterBannerAsync(IPEndPoint node, CancellationToken token)
    {
        var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(node, token);
        var one = new byte[1];
        while (await s.ReceiveAsync(one, SocketFlags.None, token) == 1 && one[0] != '\n') { }
        return s;
    }

    private static async Task<ClaimRefusal?> RefusalAsync(Socket s, CancellationToken token)
    {
        var frame = await GenesisWire.ReceiveFrameAsync(s, GenesisWire.MaxFrame, Bound, token);
        return frame is not null && GenesisWire.TryParseClaimRefusal(frame, out var reason) ? reason : null;
    }

    [Fact]
    public async Task Hellos_naming_the_pinned_key_without_its_proof_are_refused_at_once_and_cannot_lock_the_claim_out()
    {
        using var claims = Claims();
        // One handshake slot and a long handshake timeout: under v1 hellos four such connections locked every claim out.
        using var listener = Holding(claims, Relaxed with { MaxConcurrentHandshakes = 1, HandshakeTimeout = TimeSpan.FromSeconds(30), PerSourceMaxConnections = 100, PerSourceRatePerSecond = 1000 });
        var node = listener.LocalEndPoints[0];
        var attackers = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var s = await AfterBannerAsync(node, _stop.Token);
                attackers.Add(s);
                var hello = new byte[GenesisWire.ClaimHelloSize];
                // The pinned key is public; the tag is made with a key the attacker does not have.
                using var other = AuthorityCredential.Generate(new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 1);
                Assert.True(GenesisWire.TryWriteClaimHello(hello, other.NoisePrivateKeyMemory.Span, _node.PublicKey, RandomNumberGenerator.GetBytes(16)));
                _authority.NoisePublicKey.CopyTo(hello, 8);
                await GenesisWire.SendFrameAsync(s, hello, Bound, _stop.Token);
                Assert.Equal(ClaimRefusal.BadProof, await RefusalAsync(s, _stop.Token));
            }
            // A version 1 hello (no proof) is refused the same way.
            var v1 = await AfterBannerAsync(node, _stop.Token);
            attackers.Add(v1);
            await GenesisWire.SendFrameAsync(v1, (byte[])[.. "PPNC\x01\0\0\0"u8, .. _authority.NoisePublicKey], Bound, _stop.Token);
            Assert.Equal(ClaimRefusal.BadProof, await RefusalAsync(v1, _stop.Token));

            var claim = await ClaimClient.ClaimAsync(node, _authority, GrantFor, Generous, _stop.Token);
            Assert.True(claim.Succeeded, claim.Failure);
            Assert.Equal(1, claim.Attempts);
            Assert.Equal(9, claims.RefusedHellos);
            // The node records who claimed it once the exchange (which sent the ack) returns: the client may see
            // the ack first, so wait for it, bounded.
            Assert.True(SpinWait.SpinUntil(() => claims.ClaimedBy is not null, Bound), "the claim was never recorded");
            Assert.Equal(_authority.NoisePublicKey, claims.ClaimedBy);
        }
        finally
        {
            attackers.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task A_replayed_genuine_hello_is_refused()
    {
        using var claims = Claims();
        using var listener = Holding(claims);
        var node = listener.LocalEndPoints[0];
        var hello = new byte[GenesisWire.ClaimHelloSize];
        Assert.True(GenesisWire.TryWriteClaimHello(hello, _authority.NoisePrivateKeyMemory.Span, _node.PublicKey, RandomNumberGenerator.GetBytes(16)));
        using (var first = await AfterBannerAsync(node, _stop.Token))
        {
            await GenesisWire.SendFrameAsync(first, hello, Bound, _stop.Token);
            var m1 = await GenesisWire.ReceiveFrameAsync(first, GenesisWire.MaxFrame, Bound, _stop.Token);
            Assert.Equal(NoiseIK.Message1Overhead + GenesisWire.RequestSize, m1!.Length); // the genuine hello got message 1
        }
        using var replay = await AfterBannerAsync(node, _stop.Token);
        await GenesisWire.SendFrameAsync(replay, hello, Bound, _stop.Token);
        Assert.Equal(ClaimRefusal.Replayed, await RefusalAsync(replay, _stop.Token));
    }

    [Fact]
    public async Task A_hello_naming_a_key_that_is_not_pinned_gets_the_refusal_that_says_so()
    {
        using var other = AuthorityCredential.Generate(new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 1);
        using var claims = Claims();
        using var listener = Holding(claims);
        var claim = await ClaimClient.ClaimAsync(listener.LocalEndPoints[0], other, _ => null, Generous, _stop.Token);
        Assert.False(claim.Succeeded);
        Assert.Equal(ClaimRefusal.NotPinned, claim.Exchange?.Refusal);
        Assert.Contains("does not pin this authority", claim.Failure);
        Assert.Equal(1, claim.Attempts); // a refusal is an answer: not retried
    }

    /// <summary>A node that answers the hello with message 1, reads message 2 and then vanishes without an ack.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_lost_ack_is_outcome_unknown_unless_the_node_then_says_it_is_enrolled_by_us(bool nodeStoredIt)
    {
        var handler = new AckLosingNode(_node, _authority.NoisePublicKey, Bound);
        // After the grant arrived, a node that stored it answers with the enrolled banner; one that did not, still holds.
        using var listener = Holding(handler, banner: () => nodeStoredIt && handler.GrantReceived
            ? GenesisBanner.FormatEnrolled(_node.PublicKey, _authority.NoisePublicKey)
            : GenesisBanner.Format(_node.PublicKeyBase64));

        var claim = await ClaimClient.ClaimAsync(listener.LocalEndPoints[0], _authority, GrantFor, Generous, _stop.Token);
        Assert.True(handler.GrantReceived);
        Assert.Equal(1, claim.Attempts); // nothing is retried once the grant was sent
        if (nodeStoredIt)
        {
            Assert.True(claim.Succeeded && claim.AlreadyEnrolled, claim.Failure);
            Assert.NotNull(claim.Exchange?.Grant);
        }
        else
        {
            Assert.False(claim.Succeeded);
            Assert.True(claim.OutcomeUnknown, claim.Failure);
        }
    }

    [Fact]
    public async Task The_enrolled_banner_is_success_for_its_authority_and_a_clear_error_for_another()
    {
        using var other = AuthorityCredential.Generate(new IPEndPoint(IPAddress.Loopback, 1), new byte[32], 1);
        using var claims = Claims();
        using var listener = Holding(claims, banner: () => GenesisBanner.FormatEnrolled(_node.PublicKey, _authority.NoisePublicKey));
        var node = listener.LocalEndPoints[0];

        var ours = await ClaimClient.ClaimAsync(node, _authority, GrantFor, Generous, _stop.Token);
        Assert.True(ours.Succeeded && ours.AlreadyEnrolled, ours.Failure);
        Assert.Equal(_node.PublicKey, ours.BannerNodeKey);
        Assert.Null(ours.Exchange); // nothing was sent

        var theirs = await ClaimClient.ClaimAsync(node, other, _ => null, Generous, _stop.Token);
        Assert.False(theirs.Succeeded);
        Assert.Equal(_authority.NoisePublicKey, theirs.EnrolledBy);
        Assert.Contains("already enrolled by another authority", theirs.Failure);
    }

    /// <summary>Drops the first connections right after the banner (as eviction under a flood does), then claims normally.</summary>
    private sealed class DropsFirst(int drops, IClaimHandler then) : IClaimHandler
    {
        private int _left = drops;

        public Task HandleAsync(HoldingConnection connection, CancellationToken cancellation) =>
            Interlocked.Decrement(ref _left) >= 0 ? throw new SocketException((int)SocketError.ConnectionReset) : then.HandleAsync(connection, cancellation);
    }

    [Fact]
    public async Task A_claim_connection_dropped_before_the_handshake_is_retried()
    {
        using var claims = Claims();
        using var listener = Holding(new DropsFirst(2, claims));
        var claim = await ClaimClient.ClaimAsync(listener.LocalEndPoints[0], _authority, GrantFor, Generous, _stop.Token);
        Assert.True(claim.Succeeded, claim.Failure);
        Assert.Equal(3, claim.Attempts);
        Assert.NotNull(await claims.Claimed.WaitAsync(Bound));
    }

    [Fact]
    public async Task After_a_claim_the_handler_serves_only_the_banner()
    {
        using var claims = Claims();
        using var listener = Holding(claims, banner: () => claims.ClaimedBy is { } by ? GenesisBanner.FormatEnrolled(_node.PublicKey, by) : GenesisBanner.Format(_node.PublicKeyBase64));
        var node = listener.LocalEndPoints[0];
        Assert.True((await ClaimClient.ClaimAsync(node, _authority, GrantFor, Generous, _stop.Token)).Succeeded);
        await claims.Claimed.WaitAsync(Bound); // recorded once the exchange that sent the ack returned
        using var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(node, _stop.Token);
        var line = HoldingListenerTests.ReadAll(s); // the node closes after the banner (FIN): ReadAll returns at end of stream
        Assert.Equal(GenesisBanner.FormatEnrolled(_node.PublicKey, _authority.NoisePublicKey), line);
    }
}
