using Ppn.Appliance.Init;
using Ppn.Genesis;
using Ppn.Genesis.Entropy;
using Ppn.Genesis.Holding;
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
            var genesis = new SelfGenesis(
                new EfivarfsStore(),
                EntropyMixer.ForThisMachine(),
                new ProcNetIfInet6(),
                new NoBeaconScanner(),
                new HoldingOptions(),
                message => log.Write("genesis", message));
            genesis.Run(stopping);
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
