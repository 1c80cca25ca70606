using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Ppn.Genesis.Join;

namespace Ppn.Authority.Tests;

/// <summary>
/// The Genesis Protocol end to end on the host: the node is its own process in a network namespace whose only
/// link (a veth) has no IPv4 address; the authority simulator is on the other end, in its own namespace.
/// </summary>
[Collection(nameof(GenesisNamespaceTests))] // one lab at a time: the machine has 2 cores
public sealed class GenesisNamespaceTests : IDisposable
{
    private static readonly TimeSpan Bound = GenesisLab.Bound;
    private static readonly Regex Result = new(@"RESULT enrolled origin=(\w+) node=(\d+) address=([\d.]+)");
    private readonly GenesisLab _lab = new();
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(120));

    public void Dispose()
    {
        _stop.Cancel();
        _lab.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// The single binding once the registrar has recorded the node's ack: it reads the ack after the node sent it,
    /// so the node may log its RESULT (and exit) first. Bounded.
    /// </summary>
    private static Binding AckedBinding(AuthoritySimulator authority)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var binding = Assert.Single(authority.Registry.Bindings());
            if (binding.LastAck is not null || DateTime.UtcNow > deadline) return binding;
            Thread.Sleep(20);
        }
    }

    [NamespaceFact]
    public async Task Join_a_node_with_no_ipv4_address_hears_the_beacon_and_joins_through_the_registrar()
    {
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        var beacons = authority.EmitBeaconsAsync(GenesisLab.AuthorityInterface, TimeSpan.FromMilliseconds(500), _stop.Token);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 20);

        var result = Result.Match(node.WaitForLine(Result, Bound));
        Assert.Equal(0, node.WaitForExit(Bound));
        Assert.Equal("join", result.Groups[1].Value);
        var binding = AckedBinding(authority);
        Assert.Equal(binding.NodeId.ToString(), result.Groups[2].Value);
        Assert.Equal(binding.Address.ToString(), result.Groups[3].Value);
        Assert.Equal(AckStatus.Persisted, binding.LastAck);
        Assert.Equal(BindingOrigin.Join, binding.Origin);
        Assert.True(node.Logged("authority beacon #"), node.Transcript);
        // The node's link never had an IPv4 address: it heard the beacon off the wire (AF_PACKET).
        Assert.DoesNotMatch(@"inet \d", GenesisLab.Ip("-n", _lab.NodeNamespace, "-4", "addr", "show", "dev", GenesisLab.NodeInterface));
        _stop.Cancel();
        await beacons;
    }

    [NamespaceFact]
    public async Task Join_works_with_beacons_on_ipv6_link_local_multicast_alone()
    {
        using var lab = new GenesisLab(authorityIPv4: false); // no IPv4 on either end of the link
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await lab.StartAuthorityAsync(keys);
        var beacons = authority.EmitBeaconsAsync(GenesisLab.AuthorityInterface, TimeSpan.FromMilliseconds(500), _stop.Token);
        using var node = lab.StartNode(keys, scanWindowSeconds: 20);

        Assert.Equal("join", Result.Match(node.WaitForLine(Result, Bound)).Groups[1].Value);
        Assert.Equal(AckStatus.Persisted, AckedBinding(authority).LastAck);
        _stop.Cancel();
        await beacons;
    }

    [NamespaceFact]
    public async Task Scan_timeout_leads_to_self_genesis_and_the_simulator_claims_the_holding_node()
    {
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 1); // no beacons at all

        var holding = _lab.HoldingEndpoint(node);
        Assert.True(node.Logged("no authority beacon in the scan window: self-genesis"), node.Transcript);
        var claim = await authority.ClaimAsync(holding, _stop.Token);
        Assert.True(claim.Succeeded, claim.Failure);

        var result = Result.Match(node.WaitForLine(Result, Bound));
        Assert.Equal(0, node.WaitForExit(Bound));
        Assert.Equal("claim", result.Groups[1].Value);
        var binding = Assert.Single(authority.Registry.Bindings());
        Assert.Equal(claim.BannerNodeKey, binding.NodePublicKey);
        Assert.Equal(binding.Address.ToString(), result.Groups[3].Value);
        Assert.Equal(AckStatus.Persisted, binding.LastAck);
        Assert.Equal(BindingOrigin.Claim, binding.Origin);
    }

    [NamespaceFact]
    public async Task Rogue_beacon_signed_by_another_key_is_ignored_and_the_node_joins_nothing()
    {
        using var keys = GenesisLab.NewAuthority();
        using var rogueKeys = GenesisLab.NewAuthority();
        await using var rogue = await _lab.StartAuthorityAsync(rogueKeys, "rogue");
        var beacons = rogue.EmitBeaconsAsync(GenesisLab.AuthorityInterface, TimeSpan.FromMilliseconds(250), _stop.Token);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 3); // pins the real authority, hears only the rogue

        node.WaitForLine(new Regex(@"beacon scan ignored [1-9]\d* badly signed"), Bound);
        _lab.HoldingEndpoint(node); // it self-geneses instead
        Assert.False(node.Logged("authority beacon #"), node.Transcript);
        Assert.True(rogue.Beacons.Sent > 0);
        Assert.Equal(0, rogue.Registrar.Served); // nobody ever dialled the rogue registrar
        Assert.Empty(rogue.Registry.Bindings());
        _stop.Cancel();
        await beacons;
    }

    [NamespaceFact]
    public async Task Wrong_key_claim_is_refused_and_the_node_keeps_holding_for_the_real_authority()
    {
        using var keys = GenesisLab.NewAuthority();
        using var rogueKeys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        await using var rogue = await _lab.StartAuthorityAsync(rogueKeys, "rogue");
        using var node = _lab.StartNode(keys, scanWindowSeconds: 1);
        var holding = _lab.HoldingEndpoint(node);

        var refused = await rogue.ClaimAsync(holding, _stop.Token);
        Assert.False(refused.Succeeded);
        Assert.NotNull(refused.BannerNodeKey); // it saw the banner, and nothing more
        Assert.Null(refused.Exchange?.Ack);
        Assert.Empty(rogue.Registry.Bindings());
        Assert.False(node.HasExited);
        Assert.False(node.Logged("RESULT"), node.Transcript);

        var claim = await authority.ClaimAsync(holding, _stop.Token);
        Assert.True(claim.Succeeded, claim.Failure);
        Assert.Equal("claim", Result.Match(node.WaitForLine(Result, Bound)).Groups[1].Value);
    }

    [NamespaceFact]
    public async Task Lost_reply_is_retried_and_gets_the_same_assignment_with_one_binding_in_the_registry()
    {
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        authority.Registrar.DropNextReplies(1);
        var beacons = authority.EmitBeaconsAsync(GenesisLab.AuthorityInterface, TimeSpan.FromMilliseconds(500), _stop.Token);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 20);

        var result = Result.Match(node.WaitForLine(Result, Bound));
        Assert.Equal(0, node.WaitForExit(Bound));
        Assert.True(node.Logged("join attempt 1/12"), node.Transcript);
        var binding = Assert.Single(authority.Registry.Bindings());
        Assert.Equal(binding.Address.ToString(), result.Groups[3].Value);
        Assert.Equal(binding.NodeId.ToString(), result.Groups[2].Value);
        var exchanges = authority.Registry.Exchanges();
        Assert.Equal(2, exchanges.Count);
        Assert.StartsWith("reply dropped", exchanges[0].Outcome);
        Assert.Equal("ack Persisted", exchanges[1].Outcome);
        Assert.All(exchanges, x => Assert.Equal(binding.NodePublicKeyBase64, x.NodePublicKeyBase64));
        _stop.Cancel();
        await beacons;
    }

    [NamespaceFact]
    public async Task Valid_claim_completes_while_1000_idle_slowloris_and_garbage_connections_flood_9443()
    {
        using var keys = GenesisLab.NewAuthority();
        await using var authority = await _lab.StartAuthorityAsync(keys);
        // 125 attacker addresses x 8 connections: within the node's per-source limits (8 at once, burst 20), so
        // the flood reaches the global cap and only eviction of the oldest lets the claim in.
        var sources = _lab.AddAuthoritySourceAddresses(125);
        using var node = _lab.StartNode(keys, scanWindowSeconds: 1); // default HoldingOptions, as on a node
        var holding = _lab.HoldingEndpoint(node);

        var flood = _lab.Network.Run(() => sources.SelectMany(s => Enumerable.Range(0, 8).Select(_ =>
        {
            var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(s, 0));
            return socket;
        })).ToList());
        using var trickle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        try
        {
            int connected = 0;
            for (int i = 0; i < flood.Count; i++)
            {
                try
                {
                    await flood[i].ConnectAsync(holding, _stop.Token);
                    connected++;
                    if (i % 3 == 2) await flood[i].SendAsync(new byte[] { 0xff, 0xff, 1, 2, 3 }, SocketFlags.None); // garbage: an oversized frame
                }
                catch (SocketException)
                {
                    // The node may reset a connection it evicted already; a flood does not care.
                }
            }
            Assert.True(connected >= 900, $"only {connected} of {flood.Count} flood connections were made");
            // Slowloris: a byte now and then on a third of them, for as long as the claim takes.
            var slowloris = Task.Run(async () =>
            {
                var one = new byte[] { 0x00 };
                while (!trickle.IsCancellationRequested)
                {
                    for (int i = 1; i < flood.Count; i += 3)
                    {
                        try { await flood[i].SendAsync(one, SocketFlags.None); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
                    }
                    try { await Task.Delay(200, trickle.Token); } catch (OperationCanceledException) { }
                }
            });

            var claim = await authority.ClaimAsync(holding, _stop.Token);
            trickle.Cancel();
            await slowloris;
            Assert.True(claim.Succeeded, $"{claim.Failure}\n{node.Transcript}");
            Assert.Equal("claim", Result.Match(node.WaitForLine(Result, Bound)).Groups[1].Value);
            Assert.Single(authority.Registry.Bindings());
        }
        finally
        {
            foreach (var s in flood) s.Dispose();
        }
    }
}
