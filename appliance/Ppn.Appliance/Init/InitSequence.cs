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
/// PID 1's early boot: mounts, blind-boot sysctls, kernel modules in dependency order (the drivers of the devices
/// present first, each link brought up as soon as its driver has registered it), efivarfs, a bounded wait for a
/// link whose driver probes late. Every step is logged; a failed step is reported and the sequence goes on, because a node that is
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
        var up = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        foreach (var spec in StandardMounts.Early)
        {
            Step($"mount {spec.FileSystem} on {spec.Target}", failures, () =>
            {
                _mounter.Mount(spec);
                mounted.Add(spec.Target);
            });
        }

        // Blind boot before any link exists ("default" is what a NIC registered later starts with); then every
        // link comes up as soon as it appears, so its carrier and address wait overlaps the rest of the boot.
        Step("configure blind boot (no DHCP, no DNS, no router advertisements)", failures, () =>
        {
            foreach (var scope in new[] { "all", "default" })
            {
                foreach (var (path, value) in BlindBoot.Sysctls(scope))
                {
                    TrySysctl(path, value, failures);
                }
            }
            BringUpNewLinks(up, seen, failures);
        });

        Step("load kernel modules", failures, () => LoadModules(loaded, failures, () => BringUpNewLinks(up, seen, failures)));

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

        Step("bring up network links", failures, () => WaitForLinks(up, seen, failures));

        _log.Write("init", $"early boot done: {mounted.Count} mounts, {loaded.Count} modules, links up: {string.Join(' ', up.Order(StringComparer.Ordinal))}; {failures.Count} problem(s)");
        return new EarlyBootReport(mounted, loaded, failures, efivarfs, up);
    }

    /// <param name="afterEach">Runs after every module that loaded: a NIC driver registers its links while it loads.</param>
    private void LoadModules(List<string> loaded, List<string> failures, Action afterEach)
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
            Load(order, loaded, failures, afterEach);
            _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}");
            return;
        }
        // Hardware-chosen: a device driver (a module with device patterns in modules.alias) loads only when a
        // present device's modalias matches one, with what it depends on; every other module (efivarfs,
        // wireguard and its crypto) always loads, after the drivers, so the links are up while it loads.
        // Loading a bus driver (virtio_pci) makes new devices appear (virtio0), so match again until nothing new.
        ModuleAliases aliases;
        try
        {
            aliases = ModuleAliases.Parse(File.ReadAllText(aliasFile), aliasFile);
        }
        catch (FormatException e)
        {
            Fail(failures, $"{e.Message}: loading every module of the image instead; rebuild the image with ppn-image");
            Load(order, loaded, failures, afterEach);
            _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}");
            return;
        }
        var drivers = aliases.DeviceDrivers();
        var devices = new SysfsDeviceAliases(_paths.SysfsRoot);
        // Libraries only device drivers need (libphy, virtio_ring) come with their driver, through the closure.
        var driverPaths = order.Where(m => drivers.Contains(ModuleDependencies.NameOf(m))).ToList();
        var driverOnly = dependencies.Closure(driverPaths);
        var always = order.Where(m => !driverOnly.Contains(m)).ToList();
        var wantedDrivers = new HashSet<string>(StringComparer.Ordinal);
        var attempted = new HashSet<string>(StringComparer.Ordinal);

        void LoadNext(IEnumerable<string> wanted)
        {
            var closure = dependencies.Closure(wanted);
            var next = order.Where(m => closure.Contains(m) && !attempted.Contains(m)).ToList();
            attempted.UnionWith(next);
            Load(next, loaded, failures, afterEach);
        }

        void LoadPresentDrivers()
        {
            for (int round = 0; round < 8; round++)
            {
                var matched = aliases.DriversFor(devices.Read());
                int before = attempted.Count;
                wantedDrivers.UnionWith(order.Where(m => matched.Contains(ModuleDependencies.NameOf(m))));
                LoadNext(wantedDrivers);
                if (attempted.Count == before) break;
            }
        }

        LoadPresentDrivers();
        LoadNext(always);
        LoadPresentDrivers(); // a device an always-loaded module made appear
        var skipped = order.Where(m => !attempted.Contains(m)).Select(ModuleDependencies.NameOf).ToList();
        _log.Write("init", $"modules loaded: {string.Join(' ', loaded)}" +
            (skipped.Count > 0 ? $"; not loaded (no device of theirs present): {string.Join(' ', skipped)}" : ""));
    }

    private void Load(IEnumerable<string> modules, List<string> loaded, List<string> failures, Action afterEach)
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
                    afterEach();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(failures, $"module {name}: {ex.Message}");
            }
        }
    }

    /// <summary>
    /// After the modules: NIC drivers that probe asynchronously may register their interfaces late, so wait
    /// (bounded) until at least one interface besides lo is up, and bring up any that appeared meanwhile.
    /// </summary>
    private void WaitForLinks(List<string> up, HashSet<string> seen, List<string> failures)
    {
        var deadline = Stopwatch.StartNew();
        BringUpNewLinks(up, seen, failures);
        while (!seen.Any(n => n != "lo") && deadline.Elapsed < _linkWait)
        {
            Thread.Sleep(50);
            BringUpNewLinks(up, seen, failures);
        }
        if (!seen.Any(n => n != "lo"))
        {
            Fail(failures, $"no network interface appeared within {_linkWait.TotalSeconds:0} s: is the NIC's driver in the image?");
        }
    }

    /// <summary>
    /// Brings up every interface not seen before: its blind-boot sysctls, IFF_UP, then a link-state query whose
    /// side effect (newer kernels) is that the kernel catches up with a carrier the driver reported before the
    /// link was up (<see cref="ILinkControl.QueryCarrier"/>). A failing query is a line, not a problem: the
    /// link is up and the kernel catches up by itself within a second.
    /// </summary>
    private void BringUpNewLinks(List<string> up, HashSet<string> seen, List<string> failures)
    {
        IReadOnlyList<string> names;
        try
        {
            names = _links.List();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(failures, $"list network interfaces: {ex.Message}");
            return;
        }
        foreach (var name in names)
        {
            if (!seen.Add(name))
            {
                continue;
            }
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
                continue;
            }
            if (name == "lo")
            {
                continue;
            }
            string carrier;
            try
            {
                carrier = _links.QueryCarrier(name) ? "carrier on" : "no carrier yet";
            }
            catch (Exception ex) when (ex is IOException or ArgumentException)
            {
                carrier = $"link state unknown: {ex.Message}";
            }
            _log.Write("init", $"link {name} up ({carrier})");
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
