using System.Diagnostics;
using Ppn.Linux.Modules;

namespace Ppn.Appliance.Init;

/// <summary>What early boot achieved; every step is attempted and reported, none aborts the others.</summary>
public sealed record EarlyBootReport(
    IReadOnlyList<string> Mounted,
    IReadOnlyList<string> ModulesLoaded,
    IReadOnlyList<string> Failures,
    bool EfivarfsMounted,
    IReadOnlyList<string> LinksUp);

/// <summary>Where early boot reads its inputs; a test points these at a temp directory.</summary>
public sealed record InitPaths(string ModulesRoot = "/lib/modules", string OsReleaseFile = "/proc/sys/kernel/osrelease", string SysfsRoot = "/sys")
{
    public static InitPaths System { get; } = new();
}

/// <summary>
/// PID 1's early boot: mounts, kernel modules in dependency order, efivarfs, network links in blind-boot
/// mode. Every step is logged; a failed step is reported and the sequence goes on, because a node that is
/// half up can still be reached by a technician while a node whose PID 1 died cannot (kernel panic).
/// </summary>
public sealed class InitSequence
{
    private readonly ILog _log;
    private readonly IMounter _mounter;
    private readonly IModuleLoader _modules;
    private readonly ILinkControl _links;
    private readonly InitPaths _paths;
    private readonly TimeSpan _linkWait;

    public InitSequence(ILog log, IMounter mounter, IModuleLoader modules, ILinkControl links, InitPaths paths, TimeSpan? linkWait = null)
    {
        _log = log;
        _mounter = mounter;
        _modules = modules;
        _links = links;
        _paths = paths;
        _linkWait = linkWait ?? TimeSpan.FromSeconds(5);
    }

    public EarlyBootReport Run()
    {
        var mounted = new List<string>();
        var failures = new List<string>();
        var loaded = new List<string>();

        foreach (var spec in StandardMounts.Early)
        {
            Step($"mount {spec.FileSystem} on {spec.Target}", failures, () =>
            {
                _mounter.Mount(spec);
                mounted.Add(spec.Target);
            });
        }

        Step("load kernel modules", failures, () => LoadModules(loaded, failures));

        bool efivarfs = false;
        if (_mounter.DirectoryExists("/sys/firmware/efi"))
        {
            Step($"mount efivarfs on {StandardMounts.EfivarfsPath}", failures, () =>
            {
                _mounter.Mount(StandardMounts.Efivarfs);
                mounted.Add(StandardMounts.EfivarfsPath);
                efivarfs = true;
            });
        }
        else
        {
            Fail(failures, "no /sys/firmware/efi: the node did not boot through UEFI, so there is no variable storage for its identity");
        }

        var up = new List<string>();
        Step("bring up network links (blind boot: no DHCP, no DNS, no router advertisements)", failures, () => BringUpLinks(up, failures));

        _log.Write("init", $"early boot done: {mounted.Count} mounts, {loaded.Count} modules, links up: {string.Join(' ', up)}; {failures.Count} problem(s)");
        return new EarlyBootReport(mounted, loaded, failures, efivarfs, up);
    }

    private void LoadModules(List<string> loaded, List<string> failures)
    {
        var release = File.ReadAllText(_paths.OsReleaseFile).Trim();
        var dir = Path.Combine(_paths.ModulesRoot, release);
        var depFile = Path.Combine(dir, "modules.dep");
        if (!File.Exists(depFile))
        {
            Fail(failures, $"no {depFile}: the image ships no modules for kernel {release}; rebuild it with ppn-image for this kernel");
            return;
        }
        var dependencies = ModuleDependencies.Parse(File.ReadAllText(depFile), depFile);
        var order = dependencies.LoadOrder();
        var aliasFile = Path.Combine(dir, "modules.alias");
        if (!File.Exists(aliasFile))
        {
            _log.Write("init", $"no {aliasFile}: loading every module of the image (an image built before hardware-chosen modules)");
            Load(order, loaded, failures);
            _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}");
            return;
        }
        // Hardware-chosen: a device driver (a module with device patterns in modules.alias) loads only when a
        // present device's modalias matches one, with what it depends on; every other module (efivarfs,
        // wireguard and its crypto) always loads.
        // Loading a bus driver (virtio_pci) makes new devices appear (virtio0), so match again until nothing new.
        ModuleAliases aliases;
        try
        {
            aliases = ModuleAliases.Parse(File.ReadAllText(aliasFile), aliasFile);
        }
        catch (FormatException e)
        {
            Fail(failures, $"{e.Message}: loading every module of the image instead; rebuild the image with ppn-image");
            Load(order, loaded, failures);
            _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}");
            return;
        }
        var drivers = aliases.DeviceDrivers();
        var devices = new SysfsDeviceAliases(_paths.SysfsRoot);
        // Libraries only device drivers need (libphy, virtio_ring) come with their driver, through the closure.
        var driverPaths = order.Where(m => drivers.Contains(ModuleDependencies.NameOf(m))).ToList();
        var driverOnly = dependencies.Closure(driverPaths);
        var wanted = order.Where(m => !driverOnly.Contains(m)).ToHashSet(StringComparer.Ordinal);
        var attempted = new HashSet<string>(StringComparer.Ordinal);
        for (int round = 0; round < 8; round++)
        {
            var matched = aliases.DriversFor(devices.Read());
            wanted.UnionWith(order.Where(m => matched.Contains(ModuleDependencies.NameOf(m))));
            var closure = dependencies.Closure(wanted);
            var next = order.Where(m => closure.Contains(m) && !attempted.Contains(m)).ToList();
            if (next.Count == 0) break;
            attempted.UnionWith(next);
            Load(next, loaded, failures);
        }
        var skipped = order.Where(m => !attempted.Contains(m)).Select(ModuleDependencies.NameOf).ToList();
        _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}" +
            (skipped.Count > 0 ? $"; not loaded (no device of theirs present): {string.Join(' ', skipped)}" : ""));
    }

    private void Load(IEnumerable<string> modules, List<string> loaded, List<string> failures)
    {
        var dir = Path.Combine(_paths.ModulesRoot, File.ReadAllText(_paths.OsReleaseFile).Trim());
        foreach (var module in modules)
        {
            var name = Path.GetFileNameWithoutExtension(module);
            try
            {
                if (_modules.Load(Path.Combine(dir, module)))
                {
                    loaded.Add(name);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(failures, $"module {name}: {ex.Message}");
            }
        }
    }

    private void BringUpLinks(List<string> up, List<string> failures)
    {
        foreach (var scope in new[] { "all", "default" })
        {
            foreach (var (path, value) in BlindBoot.Sysctls(scope))
            {
                TrySysctl(path, value, failures);
            }
        }

        // NIC drivers register their devices while their module loads, but some probe asynchronously:
        // wait (bounded) for at least one interface besides lo.
        var deadline = Stopwatch.StartNew();
        IReadOnlyList<string> names = _links.List();
        while (!names.Any(n => n != "lo") && deadline.Elapsed < _linkWait)
        {
            Thread.Sleep(50);
            names = _links.List();
        }
        if (!names.Any(n => n != "lo"))
        {
            Fail(failures, $"no network interface appeared within {_linkWait.TotalSeconds:0} s: is the NIC's driver in the image?");
        }

        foreach (var name in names)
        {
            if (name != "lo")
            {
                foreach (var (path, value) in BlindBoot.Sysctls(name))
                {
                    TrySysctl(path, value, failures);
                }
            }
            try
            {
                _links.SetUp(name);
                up.Add(name);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException)
            {
                Fail(failures, $"link {name}: {ex.Message}");
            }
        }
    }

    private void TrySysctl(string path, string value, List<string> failures)
    {
        try
        {
            _links.WriteSysctl(path, value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(failures, $"sysctl {path}={value}: {ex.Message}");
        }
    }

    private void Step(string what, List<string> failures, Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            Fail(failures, $"{what}: {ex.Message}");
        }
    }

    private void Fail(List<string> failures, string message)
    {
        failures.Add(message);
        _log.Write("init", "problem: " + message);
    }
}
