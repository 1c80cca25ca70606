using System.Net;
using System.Net.Sockets;
using Ppn.Genesis;
using Ppn.Genesis.Claim;
using Ppn.Genesis.Join;
using Ppn.Mesh.Sync;

namespace Ppn.Authority;

public sealed record AuthoritySimulatorOptions
{
    /// <summary>Where the simulator's sockets live (default: this process's namespace).</summary>
    public AuthorityNetwork Network { get; init; } = AuthorityNetwork.Host;
    /// <summary>The registrar's TCP port; 0 picks a free one (beacons carry it).</summary>
    public int RegistrarPort { get; init; }
    public GenesisTimeouts Timeouts { get; init; } = new();
    /// <summary>"Now" in Unix seconds for grants' issued-at (tests pin it).</summary>
    public Func<ulong> Clock { get; init; } = () => (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    /// <summary>Where relays pull the peer set (docs/protocol/sync.md §Authority); null: no sync port.</summary>
    public IPEndPoint? SyncListen { get; init; }
    public SyncServerOptions SyncServer { get; init; } = new();
}

/// <summary>
/// os-network-admin as the Genesis Protocol sees it, built from docs/protocol/genesis.md alone: a beacon
/// emitter, a registrar over a SQLite pairing registry, and a claim client for holding nodes.
/// <code>
/// using var keys = AuthorityCredential.Generate(hub, hubKey, epoch: 1);
/// await using var authority = await AuthoritySimulator.StartAsync("registry.db", keys, new() { Network = AuthorityNetwork.InNamespace(ns) });
/// var beacons = authority.EmitBeaconsAsync("auth0", TimeSpan.FromSeconds(1), stop.Token);
/// ... authority.Registry.Bindings() ...
/// var claim = await authority.ClaimAsync(new IPEndPoint(nodeLinkLocal, 9443), stop.Token);
/// </code>
/// The credential stays the caller's (not disposed here).
/// </summary>
public sealed class AuthoritySimulator : IAsyncDisposable
{
    private readonly AuthoritySimulatorOptions _options;

    private AuthoritySimulator(AuthorityCredential credential, PairingRegistry registry, Registrar registrar, AuthoritySimulatorOptions options, PeerSetPublisher peerSets, SyncServer? sync)
    {
        PeerSets = peerSets;
        Sync = sync;
        Credential = credential;
        Registry = registry;
        Registrar = registrar;
        _options = options;
        Beacons = new BeaconEmitter(credential, options.Network);
    }

    public AuthorityCredential Credential { get; }
    public PairingRegistry Registry { get; }
    public Registrar Registrar { get; }
    public BeaconEmitter Beacons { get; }
    public AuthorityNetwork Network => _options.Network;
    /// <summary>The registry signed as peer sets: every binding and revocation is published (the real path for every scenario).</summary>
    public PeerSetPublisher PeerSets { get; }
    /// <summary>The sync port relays long-poll, when <see cref="AuthoritySimulatorOptions.SyncListen"/> is set.</summary>
    public SyncServer? Sync { get; }

    /// <summary>Revokes a node: a signed revocation, the binding removed, the next peer set published.</summary>
    public Revocation? Revoke(ReadOnlySpan<byte> nodePublicKey) => Registry.Revoke(nodePublicKey, _options.Clock());

    public static Task<AuthoritySimulator> StartAsync(string registryPath, AuthorityCredential credential, AuthoritySimulatorOptions? options = null)
    {
        options ??= new AuthoritySimulatorOptions();
        var registry = PairingRegistry.Open(registryPath, credential);
        try
        {
            var registrar = new Registrar(credential, registry, options.Network, options.RegistrarPort, options.Timeouts, options.Clock);
            var peerSets = new PeerSetPublisher(registry, credential, options.Clock);
            SyncServer? sync = null;
            if (options.SyncListen is { } listen)
            {
                try
                {
                    sync = new SyncServer(options.Network.Run(() => SyncServer.Bind(listen.Address, listen.Port)), peerSets, null, options.SyncServer);
                }
                catch
                {
                    peerSets.Dispose();
                    registrar.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw;
                }
            }
            return Task.FromResult(new AuthoritySimulator(credential, registry, registrar, options, peerSets, sync));
        }
        catch
        {
            registry.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Beacons out of <paramref name="interfaceName"/> every <paramref name="period"/> until cancelled, naming this
    /// simulator's registrar at the interface's link-local address (waits, bounded, for DAD to finish).
    /// </summary>
    public async Task EmitBeaconsAsync(string interfaceName, TimeSpan period, CancellationToken cancellation)
    {
        var registrar = await Network.WaitForLinkLocalAsync(interfaceName, TimeSpan.FromSeconds(10), cancellation);
        await Beacons.RunAsync(interfaceName, registrar, Registrar.Port, period, cancellation);
    }

    /// <summary>Claims the holding node at <paramref name="node"/> (normally [fe80::…%iface]:9443): the grant comes from the registry.</summary>
    public async Task<ClaimResult> ClaimAsync(IPEndPoint node, CancellationToken cancellation, IPAddress? sourceAddress = null)
    {
        var result = await ClaimClient.ClaimAsync(node, Credential, key => Registry.Assign(key, BindingOrigin.Claim, _options.Clock()), _options.Timeouts, cancellation,
            family =>
            {
                var s = Network.CreateSocket(family, SocketType.Stream, ProtocolType.Tcp);
                if (sourceAddress is not null) s.Bind(new IPEndPoint(sourceAddress, 0));
                return s;
            });
        var key = result.Exchange?.NodePublicKey is { Length: 32 } k ? k : result.BannerNodeKey;
        Registry.RecordExchange(key, BindingOrigin.Claim, result.Failure ?? $"ack {result.Exchange!.Ack}");
        if (result.Exchange is { Ack: { } ack, Failure: null, NodePublicKey.Length: 32 }) Registry.RecordAck(result.Exchange.NodePublicKey, ack);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (Sync is not null) await Sync.DisposeAsync();
        PeerSets.Dispose();
        await Registrar.DisposeAsync();
        Registry.Dispose();
    }
}
