using Ppn.Appliance.Commands;
using Ppn.Appliance.Lifecycle;
using Ppn.Commands;
using Ppn.Appliance.Init;
using Ppn.Genesis;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Beacon;
using Ppn.Formats;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;
using Ppn.Mesh;
using Ppn.Mesh.Links;
using Ppn.Mesh.Sync;
using Ppn.Mesh.WireGuard;
using Ppn.Genesis.Join;
using Ppn.Nic.Discovery;
using Ppn.Nic.Ethtool;
using Ppn.UefiVars.Conformance;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.Appliance;

/// <summary>Composes the node's long-running services from the libraries (no protocol logic here).</summary>
public static class NodeServices
{
    /// <param name="power">PID 1's flush + reboot(2).</param>
    public static IReadOnlyList<IApplianceService> Create(ILog log, EarlyBootReport report, KernelCommandLine cmdline, Action<PowerAction> power)
    {
        if (!report.EfivarfsMounted)
        {
            log.Write("genesis", "no UEFI variable storage: the node cannot keep an identity; holding without one");
        }
        else if (cmdline.Has("ppn.selftest", "uefi"))
        {
            RunUefiSelfTest(log);
        }
        if (cmdline.Has("ppn.selftest", "mesh"))
        {
            SelfTests.MeshSelfTest.Run(line => log.Write("selftest", line));
        }
        if (cmdline.Has("ppn.selftest", "nic"))
        {
            SelfTests.NicSelfTest.Run(line => log.Write("selftest", line));
        }
        if (File.Exists(RelayService.ConfigPath))
        {
            log.Write("init", $"{RelayService.ConfigPath} present: this node is the mesh relay (hub); no genesis");
            var variables = report.EfivarfsMounted ? new EfivarfsStore() : null;
            return [new RelayService(log, serialFloor: variables is null ? null : new UefiSerialFloor(variables), identity: new RelayIdentity(variables, log))
            {
                Roster = variables is null ? null : new UefiRelayRosterStore(variables),
            }];
        }
        // Counted here, once per PID 1 start, not in the service (a supervised restart of it is not a boot).
        ulong? boots = report.EfivarfsMounted ? new Telemetry.BootCounter(new EfivarfsStore()).CountThisBoot(line => log.Write("telemetry", line)) : null;
        return [new GenesisService(log, power, SelfTests.MeshPingSelfTest.Targets(cmdline), boots)];
    }

    /// <summary>The efivarfs conformance checks against this node's real firmware (hw-tests boots with ppn.selftest=uefi).</summary>
    private static void RunUefiSelfTest(ILog log)
    {
        try
        {
            var results = VariableStoreConformance.Run(new EfivarfsStore(), line => log.Write("selftest", line));
            foreach (var r in results.Where(r => !r.Passed))
            {
                log.Write("selftest", $"FAIL {r.Name}: {r.Detail}");
            }
            log.Write("selftest", $"uefi: {results.Count(r => r.Passed)} passed, {results.Count(r => !r.Passed)} failed");
        }
        catch (Exception e)
        {
            log.Write("selftest", $"uefi: could not run: {e.Message}");
        }
    }

    /// <summary>
    /// The node's life (appliance/Ppn.Appliance.Lifecycle's <see cref="NodeLifecycle"/>) with its real capabilities:
    /// genesis over efivarfs and the link-local network, ppn0 through kernel WireGuard and rtnetlink, the UDP 8090
    /// command service with its replay state in UEFI variables, beacon rescans that join again.
    /// </summary>
    private sealed class GenesisService(ILog log, Action<PowerAction> power, IReadOnlyList<System.Net.IPAddress> meshPingTargets, ulong? boots) : IApplianceService
    {
        public string Name => "genesis";

        public void Run(CancellationToken stopping)
        {
            var store = new EfivarfsStore();
            var node = new EnrolledNode(store, log);
            using var signals = new WaitHandleSignals();
            var genesis = new GenesisStep(store, node, log);
            NodeLifecycle? lifecycle = null;
            var mesh = new KernelMesh(node, store);
            var commandState = new UefiCommandState(store);
            var intake = new Telemetry.TelemetryIntake(CommandIntake(store, node, genesis, mesh, commandState, log, power, signals.RequestRescan),
                (grant, commands) => Telemetry(grant, commands, boots, node, genesis, mesh, () => lifecycle), line => log.Write("telemetry", line));
            Task? sync = null;
            lifecycle = new NodeLifecycle(genesis, new JoinRescan(store, node, genesis, log), commandState, mesh,
                intake, signals, log.Write)
            {
                FirstActivation = cancel =>
                {
                    // Mesh sync (docs/protocol/sync.md §Spoke): the peer set from the relay, direct paths to other spokes.
                    sync = mesh.StartSync(genesis.Plan?.Trust, line => log.Write("sync", line), cancel);
                    if (meshPingTargets.Count > 0) SelfTests.MeshPingSelfTest.Run(meshPingTargets, line => log.Write("selftest", line), stopping: cancel);
                },
            };
            try
            {
                lifecycle.Run(stopping);
            }
            finally
            {
                try { sync?.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
                node.Dispose();
            }
        }
    }

    /// <summary>The metric set of docs/telemetry.md over the real sources: the command service, the lifecycle, ppn0 through kernel WireGuard, sysfs.</summary>
    private static Telemetry.NodeTelemetry Telemetry(EnrolmentGrant grant, CommandService commands, ulong? boots, EnrolledNode node, GenesisStep genesis, KernelMesh mesh, Func<NodeLifecycle?> lifecycle) => new()
    {
        Build = Ppn.Appliance.Telemetry.BuildInfo.Current(),
        Grant = grant,
        Commands = commands,
        Boots = boots,
        State = () => lifecycle()?.State ?? NodeState.Starting,
        Origin = () => genesis.Origin,
        MeshUp = () => lifecycle()?.MeshUp ?? false,
        Mesh = () => new KernelWireGuard(new RtnetlinkLinkConfigurator()).Get(EnrolledMesh.Interface),
        Sync = mesh.SyncStatus,
        Nics = () => new SysfsNicDiscovery().List(),
        IdentitySources = node.Identity?.Sources,
    };

    /// <summary>The identity an enrolled node's mesh and command keys come from, read back once genesis enrolled it.</summary>
    private sealed class EnrolledNode(EfivarfsStore store, ILog log) : IDisposable
    {
        public NodeIdentity? Identity { get; private set; }

        public NodeIdentity Require() => Identity ?? throw new InvalidOperationException("the identity was not read back after genesis");

        public bool Load()
        {
            Identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad();
            if (Identity is null) log.Write("genesis", "enrolled, but the identity cannot be read back: no mesh, no commands");
            return Identity is not null;
        }

        public void Dispose() => Identity?.Dispose();
    }

    /// <summary>genesis/: the image's configuration, then restore, scan and join, or hold for a claim.</summary>
    private sealed class GenesisStep(EfivarfsStore store, EnrolledNode node, ILog log) : IGenesis
    {
        public NodeConfig? Config { get; private set; }
        public GenesisPlan? Plan { get; private set; }
        public IBeaconScanner Scanner { get; private set; } = new NoBeaconScanner();
        /// <summary>How the grant in use was made: restored, join or claim (a rescan that refreshed it: join).</summary>
        public string Origin { get; set; } = "unknown";

        public Enrolment? Run(CancellationToken stopping)
        {
            void Log(string message) => log.Write("genesis", message);
            if (NodeConfig.TryLoad(NodeConfig.ImagePath, out var loaded, out var errors))
            {
                Config = loaded;
                var trust = new AuthorityTrust(
                    loaded.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()),
                    loaded.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
                Scanner = new PacketBeaconScanner(trust, loaded.BeaconPeriod, Log);
                Plan = new GenesisPlan(trust, loaded.ScanWindow);
            }
            else if (File.Exists(NodeConfig.ImagePath))
            {
                // A broken configuration is not silently replaced by defaults: say what is wrong, self-genesis only.
                foreach (var error in errors)
                {
                    log.Write("config", $"{NodeConfig.ImagePath}: {error}");
                }
                Log("the image's configuration is invalid: no pinned authority, so no beacon scan and no claim (self-genesis only)");
            }
            else
            {
                Log($"unconfigured image (no {NodeConfig.ImagePath}): no pinned authority, self-genesis only");
            }
            var genesis = new GenesisProtocol(store, EntropyMixer.ForThisMachine(), new ProcNetIfInet6(), Scanner, new HoldingOptions(), Log, Plan);
            genesis.Run(stopping);
            Origin = genesis.EnrolledBy ?? "unknown";
            if (genesis.Enrolment is not null) UefiRelayRosterStore.ForgetAtNewEnrolment(store, genesis.EnrolledThisRun, line => log.Write("sync", line));
            if (genesis.Enrolment is not { } grant || Plan is null || Config is null || !node.Load()) return null;
            return new Enrolment(grant, genesis.EnrolledThisRun, genesis.EnrolledThisRun ? "join or claim" : "restored");
        }
    }

    // Scan for a beacon and join again: the registrar's assignment is idempotent, so this refreshes the grant
    // (a moved hub endpoint, a new address) and never leaves the node less enrolled than it was. JoinClient stores
    // the grant before it returns it.
    private sealed class JoinRescan(EfivarfsStore store, EnrolledNode node, GenesisStep genesis, ILog log) : IRescan
    {
        public EnrolmentGrant? Rescan(CancellationToken stopping)
        {
            void Log(string message) => log.Write("genesis", message);
            var joined = new BeaconJoin(genesis.Scanner, genesis.Plan!, new EnrolmentStore(store), new ProcNetIfInet6(), Log).Run(node.Require().Keys, stopping);
            if (joined.HeardNoBeacon)
            {
                Log("beacon rescan: no authority beacon in the scan window; the enrolment stays as it is");
                return null;
            }
            if (joined.Grant is not { } grant)
            {
                Log($"beacon rescan: join failed ({joined.JoinFailure}); the enrolment stays as it is");
                return null;
            }
            Log($"beacon rescan: enrolment refreshed (node {grant.NodeId}, {grant.Address}/24, hub {grant.HubEndpoint})");
            genesis.Origin = "join";
            return grant;
        }
    }

    /// <summary>
    /// ppn0 from the grant plus, once mesh sync runs, the direct-path policy's peers: the lifecycle's 10 s tick and the
    /// sync agent converge to the same desired configuration (one lock), so neither undoes the other.
    /// </summary>
    private sealed class KernelMesh(EnrolledNode node, EfivarfsStore store) : IMeshInterface
    {
        private readonly Lock _gate = new();
        private EnrolmentGrant? _grant;
        private SpokeSync? _sync;

        /// <summary>The spoke's sync agent's status for status.json and metrics; null before it runs.</summary>
        public SyncStatus? SyncStatus()
        {
            SpokeSync? sync;
            lock (_gate) sync = _sync;
            return sync?.Status();
        }

        public int Converge(EnrolmentGrant grant)
        {
            lock (_gate)
            {
                _grant = grant;
                using var enrolled = EnrolledConfig(grant);
                using var config = MeshPlan.Spoke(enrolled, _sync?.DirectPeers ?? []);
                return Apply(config).Changes.Count;
            }
        }

        private MeshConfig EnrolledConfig(EnrolmentGrant grant)
        {
            // A hub on the node's own link is reached through the first link with a usable link-local address.
            int scope = grant.HubEndpoint.Address.IsIPv6LinkLocal
                ? ProcNetIfInet6.WaitForLinkLocal(new ProcNetIfInet6(), TimeSpan.FromSeconds(10)).FirstOrDefault()?.InterfaceIndex ?? 0
                : 0;
            return EnrolledMesh.ConfigFor(grant, node.Require().Keys.PrivateKey, scope);
        }

        private static BringUpReport Apply(MeshConfig config)
        {
            var links = new RtnetlinkLinkConfigurator();
            return new MeshBringUp(new KernelWireGuard(links), links).Up(EnrolledMesh.Interface, config);
        }

        /// <summary>Starts the spoke's sync agent (once ppn0 is up); null when no authority is pinned (nothing could be verified).</summary>
        public Task? StartSync(AuthorityTrust? trust, Action<string> log, CancellationToken stopping)
        {
            EnrolmentGrant grant;
            lock (_gate)
            {
                if (_sync is not null || _grant is null) return null;
                grant = _grant;
            }
            if (trust is null)
            {
                log("no pinned authority: no mesh sync (the hub stays the only peer)");
                return null;
            }
            var links = new RtnetlinkLinkConfigurator();
            var wireGuard = new KernelWireGuard(links);
            var self = new WireGuardKey(grant.NodePublicKey);
            var state = new PeerSetState(trust, grant.HubPublicKey, new FilePeerSetStore(FilePeerSetStore.DefaultPath), log, new UefiSerialFloor(store));
            var access = new MeshAccess(
                config => { lock (_gate) return Apply(config); },
                () => wireGuard.Get(EnrolledMesh.Interface),
                family => new System.Net.Sockets.Socket(family, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp));
            var sync = new SpokeSync(() => { lock (_gate) return EnrolledConfig(_grant!); }, self, state,
                new System.Net.IPEndPoint(EnrolmentGrant.HubAddress, SyncWire.DefaultPort), access, log);
            lock (_gate) _sync = sync;
            log($"pulling the peer set from {EnrolmentGrant.HubAddress}:{SyncWire.DefaultPort} inside {EnrolledMesh.Interface}");
            return Task.Run(() => Task.WhenAll(sync.RunAsync(stopping), SyncStatusFile.PublishAsync(sync.Status, SyncStatusFile.DefaultPath, log, stopping)), CancellationToken.None);
        }
    }

    private static CommandServiceIntake CommandIntake(EfivarfsStore store, EnrolledNode node, GenesisStep genesis, KernelMesh mesh, UefiCommandState commandState, ILog log, Action<PowerAction> power, Action requestRescan)
    {
        void Log(string message) => log.Write("commands", message);
        var machine = new NodeMachine
        {
            Ethtool = new SystemEthtool(),
            Nics = new SysfsNicDiscovery(),
            Power = power,
            RescanBeacon = requestRescan,
            EraseGenesis = () =>
            {
                new EnrolmentStore(store).Delete();
                new UefiReplayStateStore(store).Erase();
                // The next enrolment may be under another authority, whose serials start again (sync.md §Node state).
                UefiRelayRosterStore.EraseWithFloor(store);
                new IdentityStore(store, EntropyMixer.ForThisMachine()).Reset();
            },
        };
        return new CommandServiceIntake(grant => new CommandServiceSetup
        {
            Store = store,
            Grant = grant,
            // The command keys pair the node with the authority's first pinned X25519 key (docs/protocol/commands.md §Keys).
            AuthorityPublicKey = genesis.Config!.AuthorityNoiseKeysX25519[0].ToArray(),
            GroupIds = genesis.Config.CommandGroups,
            // Only what came through the WireGuard tunnel: the mesh address alone would also take the underlay's.
            Interface = EnrolledMesh.Interface,
            Sync = mesh.SyncStatus,
            ReplayLossAtEnrolment = commandState.LossFoundAtEnrolment,
        }, () => node.Require().Keys.PrivateKey, () => new NodeCommandEffects(machine, Log), Log);
    }
}

/// <summary>/proc/cmdline words such as "ppn.selftest=uefi".</summary>
public sealed class KernelCommandLine(string text)
{
    private readonly string[] _words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static KernelCommandLine Read(string path = "/proc/cmdline") =>
        new(File.Exists(path) ? File.ReadAllText(path) : "");

    public bool Has(string key, string value) => _words.Contains($"{key}={value}", StringComparer.Ordinal);

    /// <summary>Every value given for <paramref name="key"/> ("key=a key=b" gives a, b).</summary>
    public IEnumerable<string> Values(string key) =>
        _words.Where(w => w.StartsWith(key + "=", StringComparison.Ordinal)).Select(w => w[(key.Length + 1)..]);
}
