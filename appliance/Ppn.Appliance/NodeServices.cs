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
using Ppn.UefiVars.Conformance;
using Ppn.UefiVars.Efivarfs;

namespace Ppn.Appliance;

/// <summary>Composes the node's long-running services from the libraries (no protocol logic here).</summary>
public static class NodeServices
{
    public static IReadOnlyList<IApplianceService> Create(ILog log, EarlyBootReport report, KernelCommandLine cmdline)
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
        return [new GenesisService(log)];
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

    private sealed class GenesisService(ILog log) : IApplianceService
    {
        public string Name => "genesis";

        public void Run(CancellationToken stopping)
        {
            void Log(string message) => log.Write("genesis", message);
            var store = new EfivarfsStore();
            IBeaconScanner scanner = new NoBeaconScanner();
            GenesisPlan? plan = null;
            if (NodeConfig.TryLoad(NodeConfig.ImagePath, out var config, out var errors))
            {
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
            if (genesis.Enrolment is { } grant && !stopping.IsCancellationRequested)
            {
                BringUpMesh(grant, store);
            }
            // Enrolled (or cancelled): this service's work is done; stay until the node stops so the
            // supervisor does not rerun genesis.
            stopping.WaitHandle.WaitOne();
        }

        private void BringUpMesh(EnrolmentGrant grant, EfivarfsStore store)
        {
            try
            {
                using var identity = new IdentityStore(store, EntropyMixer.ForThisMachine()).TryLoad()
                    ?? throw new InvalidOperationException("enrolled, but the identity is gone");
                using var config = EnrolledMesh.ConfigFor(grant, identity.Keys.PrivateKey);
                var links = new RtnetlinkLinkConfigurator();
                var report = new MeshBringUp(new KernelWireGuard(links), links).Up(EnrolledMesh.Interface, config);
                log.Write("mesh", $"{EnrolledMesh.Interface} up as {grant.Address}/{EnrolmentGrant.PrefixLength}, hub {grant.HubEndpoint}: {report.Changes.Count} change(s)");
            }
            catch (Exception e)
            {
                log.Write("mesh", $"bring-up failed: {e.Message}");
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
}
