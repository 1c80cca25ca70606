using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Join;
using Xunit.Abstractions;

namespace Ppn.Authority.Tests;

/// <summary>
/// Issue 13 on the host: the node is its own process in a namespace, holding on 9443 with the defaults of a real
/// node; from the authority's namespace an attack runs (from 125 extra link-local addresses on auth0) while the
/// genuine claim is made from auth0's own address. Asserted: the claim completes, the node stores it, the enrolled
/// banner answers, and no accept loop ever failed. Durations are printed as figures, never asserted.
/// </summary>
[Collection(nameof(GenesisNamespaceTests))] // one lab at a time: the machine has 2 cores
public sealed class GenesisAttackTests : IDisposable
{
    private static readonly TimeSpan Bound = GenesisLab.Bound;
    private static readonly Regex Result = new(@"RESULT enrolled origin=(\w+) node=(\d+) address=([\d.]+)");
    private readonly GenesisLab _lab = new();
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(150));
    private readonly ITestOutputHelper _output;

    public GenesisAttackTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        _stop.Cancel();
        _lab.Dispose();
        _stop.Dispose();
    }

    public static TheoryData<Attack[]> Attacks() => new()
    {
        new[] { Attack.IdleFlood },
        new[] { Attack.Slowloris },
        new[] { Attack.ChurnWithReset },
        new[] { Attack.HelloLockout },
        new[] { Attack.Garbage },
        new[] { Attack.IdleFlood, Attack.Slowloris, Attack.ChurnWithReset, Attack.HelloLockout, Attack.Garbage },
    };

    [NamespaceTheory]
    [MemberData(nameof(Attacks))]
    public async Task The_genuine_claim_completes_and_the_enrolled_banner_answers_while_9443_is_attacked(Attack[] attacks)
    {
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        var own = WaitForOwnAddress();                       // the technician's address, before the attackers' are added
        var sources = _lab.AddAuthoritySourceAddresses(125);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 1, announceSeconds: 120);
        var holding = _lab.HoldingEndpoint(node);

        ClaimOutcome claim;
        BannerOutcome banner;
        await using (var attack = LinkAttack.Start(attacks, _lab.Network, sources, holding, keys.NoisePublicKey))
        {
            // Under way before the claim: every attack loop has connected about twice (the flood has filled the table and cycled).
            WaitUntil(() => attack.Connections >= Math.Max(256, 2 * attack.Workers), "the attack did not get going");
            claim = await ClaimFrom(authority, holding, own);
            banner = await EnrolledBannerFrom(holding, own);
            _output.WriteLine($"{string.Join('+', attacks)}: attack connections {attack.Connections}; claim {claim.Elapsed.TotalMilliseconds:0} ms in {claim.Result.Attempts} connection(s); enrolled banner after {banner.Tries} connection(s), {banner.Elapsed.TotalMilliseconds:0.0} ms");
        }

        Assert.True(claim.Result.Succeeded, $"{claim.Result.Failure}\n{node.Transcript}");
        Assert.Equal("claim", Result.Match(node.WaitForLine(Result, Bound)).Groups[1].Value);
        var binding = Assert.Single(authority.Registry.Bindings());
        Assert.Equal(AckStatus.Persisted, binding.LastAck);
        Assert.True(GenesisBanner.TryParseEnrolled(banner.Line, out var bannerNode, out var bannerAuthority), $"no enrolled banner: \"{banner.Line}\"\n{node.Transcript}");
        Assert.Equal(claim.Result.BannerNodeKey, bannerNode);
        Assert.Equal(keys.NoisePublicKey, bannerAuthority);
        Assert.False(node.Logged("accept loop"), node.Transcript);               // nothing a peer did faulted the listener
        Assert.False(node.Logged("connection handler failed"), node.Transcript);
        Assert.False(node.HasExited, node.Transcript);
    }

    private sealed record ClaimOutcome(Genesis.Claim.ClaimResult Result, TimeSpan Elapsed);
    private sealed record BannerOutcome(string? Line, int Tries, TimeSpan Elapsed);

    private IPAddress WaitForOwnAddress()
    {
        IPAddress? own = null;
        WaitUntil(() => (own = _lab.Network.LinkLocalAddress(GenesisLab.AuthorityInterface)) is not null, "auth0 has no link-local address");
        return own!;
    }

    private async Task<ClaimOutcome> ClaimFrom(AuthoritySimulator authority, IPEndPoint holding, IPAddress own)
    {
        var clock = Stopwatch.StartNew();
        var result = await authority.ClaimAsync(holding, _stop.Token, own);
        return new(result, clock.Elapsed);
    }

    // The enrolled banner, read as a technician's nc would; a connection the flood's eviction resets is tried again (bounded).
    private async Task<BannerOutcome> EnrolledBannerFrom(IPEndPoint holding, IPAddress own)
    {
        string? line = null;
        int tries = 0;
        var clock = Stopwatch.StartNew();
        while (tries < 20 && !GenesisBanner.TryParseEnrolled(line, out _, out _))
        {
            tries++;
            using var socket = _lab.Network.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(own, 0));
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await socket.ConnectAsync(holding, deadline.Token);
                var buffer = new byte[GenesisBanner.MaxLength];
                int got = 0, n;
                while (got < buffer.Length && (n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, deadline.Token)) > 0)
                {
                    got += n;
                    if (buffer[got - 1] == '\n') break;
                }
                line = Encoding.ASCII.GetString(buffer, 0, got);
            }
            catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !_stop.IsCancellationRequested))
            {
                line = null;
            }
        }
        return new(line, tries, clock.Elapsed);
    }

    // A condition polled every 20 ms until a deadline (each check may enter the namespace: no busy spinning).
    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > Bound) throw new TimeoutException($"{what} within {Bound.TotalSeconds} s");
            Thread.Sleep(20);
        }
    }
}
