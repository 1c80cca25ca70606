using System.Net;
using System.Net.Sockets;
using Ppn.Appliance.Init;
using Ppn.Genesis;
using Ppn.Genesis.Identity;
using Ppn.Formats;
using Ppn.Genesis.Holding;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.Sync;
using Ppn.Mesh.WireGuard;

namespace Ppn.Appliance;

/// <summary>
/// The relay role (the mesh's hub, 10.8.0.1): an image that carries /etc/ppn/relay.conf brings ppn0 up from it
/// instead of running genesis. The file holds the relay's own interface (its key, address, port, forwarding) and,
/// with a [Sync] section, where the authority's sync port is: the relay then learns every spoke from the
/// authority-signed peer set, verified with the keys pinned in /etc/ppn/node.json, persists it, and serves it to
/// the spokes on 10.8.0.1:8091 inside ppn0 (docs/protocol/sync.md). No spoke is listed in the image. Without
/// [Sync] the file's own peers are the relay's (the static relay of before). The relay interprets no commands
/// (design page: a transport layer only). Its key is its own identity (<see cref="RelayIdentity"/>), never in the image.
/// </summary>
public sealed class RelayService(ILog log, string configPath = RelayService.ConfigPath, string nodeConfigPath = NodeConfig.ImagePath, ISerialFloor? serialFloor = null, RelayIdentity? identity = null) : IApplianceService
{
    public const string ConfigPath = "/etc/ppn/relay.conf";
    /// <summary>Re-converge now and then: a drifted interface is repaired (MeshBringUp changes nothing when it is right).</summary>
    public static readonly TimeSpan ConvergeInterval = TimeSpan.FromMinutes(1);

    public string Name => "relay";

    /// <summary>Where the relay keeps the roster of its accepted set across reboots (UEFI variables; docs/protocol/sync.md §Relay roster).</summary>
    public IRelayRosterStore? Roster { get; init; }

    public void Run(CancellationToken stopping)
    {
        RelayConfig config;
        try
        {
            config = RelayConfig.Load(configPath, (identity ?? new RelayIdentity(null, log)).Load);
        }
        catch (IdentityException e)
        {
            log.Write("relay", $"{configPath} names no PrivateKey and the relay's own identity is not available: {e.Message}. Retrying every {ConvergeInterval.TotalSeconds:0} s");
            stopping.WaitHandle.WaitOne(ConvergeInterval);
            return;
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            log.Write("relay", $"{configPath}: {e.Message}; fix the relay image. Retrying every {ConvergeInterval.TotalSeconds:0} s");
            stopping.WaitHandle.WaitOne(ConvergeInterval);
            return; // the supervisor runs the service again
        }
        using (config)
        {
            if (config.Authority is null)
            {
                RunStatic(config.Mesh, stopping);
                return;
            }
            if (!NodeConfig.TryLoad(nodeConfigPath, out var node, out var errors))
            {
                // No pinned authority: the relay cannot verify a set, so it serves none (never unverified peers).
                log.Write("relay", $"{configPath} has [Sync], but {nodeConfigPath} pins no authority ({string.Join("; ", errors)}): add the authority's node.json to the relay image. Running with the file's static peers only");
                RunStatic(config.Mesh, stopping);
                return;
            }
            var trust = new AuthorityTrust(node.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()), node.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
            void Log(string m) => log.Write("relay", m);
            var links = new RtnetlinkLinkConfigurator();
            var bringUp = new MeshBringUp(new KernelWireGuard(links), links);
            var wireGuard = new KernelWireGuard(links);
            var state = new PeerSetState(trust, config.Mesh.PrivateKey.PublicKey().Bytes, new FilePeerSetStore(config.StatePath), Log, serialFloor);
            var listen = config.Listen ?? new IPEndPoint(config.Mesh.Address.Address, SyncWire.DefaultPort);
            var authority = config.Authority;
            if (authority.Address.IsIPv6LinkLocal && authority.Address.ScopeId == 0)
            {
                // An authority on the relay's own link (a lab bench, the rig): reached through the first link with a
                // usable link-local address, as a spoke reaches an on-link hub (EnrolledMesh).
                int scope = ProcNetIfInet6.WaitForLinkLocal(new ProcNetIfInet6(), TimeSpan.FromSeconds(10)).FirstOrDefault()?.InterfaceIndex ?? 0;
                if (scope <= 0)
                {
                    log.Write("relay", $"the authority's sync endpoint {authority} is link-local and no link has a usable link-local address; retrying");
                    stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(10));
                    return;
                }
                authority = new IPEndPoint(new IPAddress(authority.Address.GetAddressBytes(), scope), authority.Port);
            }
            var sync = new RelaySync(config.Mesh, state, authority,
                new MeshAccess(c => bringUp.Up(EnrolledMesh.Interface, c), () => wireGuard.Get(EnrolledMesh.Interface), f => new Socket(f, SocketType.Stream, ProtocolType.Tcp)),
                () => SyncServer.Bind(listen.Address, listen.Port), Log, roster: Roster);
            // /run/ppn/sync.json: the relay has no command service (no status.json); `ppn mesh status` shows this.
            Task.WhenAll(sync.RunAsync(stopping), SyncStatusFile.PublishAsync(sync.Status, SyncStatusFile.DefaultPath, Log, stopping)).GetAwaiter().GetResult();
        }
    }

    private void RunStatic(MeshConfig config, CancellationToken stopping)
    {
        do
        {
            try
            {
                var links = new RtnetlinkLinkConfigurator();
                var report = new MeshBringUp(new KernelWireGuard(links), links).Up(EnrolledMesh.Interface, config);
                if (report.Changed)
                {
                    log.Write("relay", $"{EnrolledMesh.Interface} up as {config.Address} with {config.Peers.Count} peer(s), forwarding {(config.Forwarding ? "on" : "off")}: {report.Changes.Count} change(s)");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.Write("relay", $"{configPath}: {e.Message}");
            }
        }
        while (!stopping.WaitHandle.WaitOne(ConvergeInterval));
    }
}
