using Ppn.Appliance.Commands;
using Ppn.Appliance.Init;
using Ppn.Genesis;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
using Ppn.Genesis.Beacon;
using Ppn.Genesis.Configuration;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Identity;
using Ppn.Mesh;
using Ppn.Mesh.Links;
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
    /// <param name="powerOff">PID 1's flush + reboot(2): true restarts, false powers off.</param>
    public static IReadOnlyList<IApplianceService> Create(ILog log, EarlyBootReport report, KernelCommandLine cmdline, Action<bool> powerOff)
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
            return [new RelayService(log)];
        }
        return [new GenesisService(log, powerOff, SelfTests.MeshPingSelfTest.Targets(cmdline))];
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
    /// Genesis, then life as an enrolled node: ppn0 from the enrolment, the UDP 8090 command listener on the mesh
    /// address, and a beacon rescan (join again, idempotent) whenever the authority asks for one.
    /// </summary>
    private sealed class GenesisService(ILog log, Action<bool> powerOff, IReadOnlyList<System.Net.IPAddress> meshPingTargets) : IApplianceService
    {
        private readonly AutoResetEvent _rescan = new(false);

        public string Name => "genesis";

        public void Run(CancellationToken stopping)
        {
            void Log(string message) => log.Write("genesis", message);
            var store = new EfivarfsStore();
            IBeaconScanner scanner = new NoBeaconScanner();
            GenesisPlan? plan = null;
            NodeConfig? config = null;
            if (NodeConfig.TryLoad(NodeConfig.ImagePath, out var loaded, out var errors))
            {
                config = loaded;
                var trust = new AuthorityTrust(
                    config.AuthorityBeaconKeysEd25519.Select(k => k.ToArray()),
                    config.AuthorityNoiseKeysX25519.Select(k => k.ToArray()));
                scanner = new PacketBeaconScanner(trust, config.BeaconPeriod, Log);
                plan = new GenesisPlan(trust, config.ScanWindow);
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

            var genesis = new SelfGenesis(store, EntropyMixer.ForThisMachine(), new ProcNetIfInet6(), scanner, new HoldingOptions(), Log, plan);
            genesis.Run(stopping);
            if (genesis.Enrolment is not { } grant || stopping.IsCancellationRequested || plan is null || config is null)
            {
                // Cancelled, or holding ended without an enrolment: stay until the node stops so the supervisor
                // does not rerun genesis.
                stopping.WaitHandle.WaitOne();
                return;
            }
            var replay = new UefiReplayStateStore(store);
            if (genesis.EnrolledThisRun)
            {
                TryLog("commands", () => replay.StartEnrolment(grant.CommandKeyEpoch), "initial replay state not stored");
            }
            using var identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad();
            if (identity is null)
            {
                Log("enrolled, but the identity cannot be read back: no mesh, no commands");
                stopping.WaitHandle.WaitOne();
                return;
            }
            // ppn0 until it is up: a link that is not ready yet (no link-local address for an on-link hub, the
            // module still settling) is retried, never given up on while the node runs.
            var meshUp = BringUpMesh(grant, identity);
            while (!meshUp && !stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(5)))
            {
                meshUp = BringUpMesh(grant, identity);
            }
            using var commands = meshUp ? StartCommands(store, grant, identity, config) : null;
            if (meshUp && meshPingTargets.Count > 0)
            {
                SelfTests.MeshPingSelfTest.Run(meshPingTargets, line => log.Write("selftest", line), stopping: stopping);
            }
            var handles = new[] { stopping.WaitHandle, _rescan };
            while (WaitHandle.WaitAny(handles) == 1)
            {
                if (Rescan(scanner, plan, store, identity, stopping) is { } refreshed && !refreshed.Equals(grant))
                {
                    grant = refreshed;
                    BringUpMesh(grant, identity);
                }
            }
        }

        // Scan for a beacon and join again: the registrar's assignment is idempotent, so this refreshes the grant
        // (a moved hub endpoint, a new epoch) and never leaves the node less enrolled than it was.
        private EnrolmentGrant? Rescan(IBeaconScanner scanner, GenesisPlan plan, EfivarfsStore store, NodeIdentity identity, CancellationToken stopping)
        {
            void Log(string message) => log.Write("genesis", message);
            var beacon = scanner.Scan(plan.ScanWindow, stopping);
            if (beacon is null)
            {
                Log("beacon rescan: no authority beacon in the scan window; the enrolment stays as it is");
                return null;
            }
            var outcome = new JoinClient(plan.Trust, new EnrolmentStore(store), Log, plan.Timeouts, plan.JoinAttempts).Join(identity.Keys, beacon, stopping);
            if (!outcome.Succeeded)
            {
                Log($"beacon rescan: join failed ({outcome.Failure}); the enrolment stays as it is");
                return null;
            }
            Log($"beacon rescan: enrolment refreshed (node {outcome.Grant!.NodeId}, {outcome.Grant.Address}/24, hub {outcome.Grant.HubEndpoint})");
            return outcome.Grant;
        }

        private bool BringUpMesh(EnrolmentGrant grant, NodeIdentity identity)
        {
            try
            {
                // A hub on the node's own link is reached through the first link with a usable link-local address.
                int scope = grant.HubEndpoint.Address.IsIPv6LinkLocal
                    ? ProcNetIfInet6.WaitForLinkLocal(new ProcNetIfInet6(), TimeSpan.FromSeconds(10)).FirstOrDefault()?.InterfaceIndex ?? 0
                    : 0;
                using var config = EnrolledMesh.ConfigFor(grant, identity.Keys.PrivateKey, scope);
                var links = new RtnetlinkLinkConfigurator();
                var report = new MeshBringUp(new KernelWireGuard(links), links).Up(EnrolledMesh.Interface, config);
                log.Write("mesh", $"{EnrolledMesh.Interface} up as {grant.Address}/{EnrolmentGrant.PrefixLength}, hub {grant.HubEndpoint}: {report.Changes.Count} change(s)");
                return true;
            }
            catch (Exception e)
            {
                log.Write("mesh", $"bring-up failed: {e.Message}");
                return false;
            }
        }

        private CommandService? StartCommands(EfivarfsStore store, EnrolmentGrant grant, NodeIdentity identity, NodeConfig config)
        {
            void Log(string message) => log.Write("commands", message);
            var machine = new NodeMachine
            {
                Ethtool = new SystemEthtool(),
                Nics = new SysfsNicDiscovery(),
                PowerOff = powerOff,
                RescanBeacon = () => _rescan.Set(),
                EraseGenesis = () =>
                {
                    new EnrolmentStore(store).Delete();
                    new UefiReplayStateStore(store).Erase();
                    new IdentityStore(store, EntropyMixer.ForThisMachine()).Reset();
                },
            };
            try
            {
                return CommandService.Start(new CommandServiceSetup
                {
                    Store = store,
                    Grant = grant,
                    // The command keys pair the node with the authority's first pinned X25519 key (docs/protocol/commands.md §Keys).
                    AuthorityPublicKey = config.AuthorityNoiseKeysX25519[0].ToArray(),
                    GroupIds = config.CommandGroups,
                }, identity.Keys.PrivateKey, new NodeCommandEffects(machine, Log), Log);
            }
            catch (Exception e)
            {
                Log($"not listening: {e.Message}");
                return null;
            }
        }

        private void TryLog(string area, Action action, string what)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                log.Write(area, $"{what}: {e.Message}");
            }
        }
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
