using Ppn.Appliance.Init;

namespace Ppn.Appliance.Tests;

public sealed class InitSequenceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ppn-init-").FullName;
    private readonly RecordingLog _log = new();
    private readonly FakeMounter _mounter = new();
    private readonly List<string> _events = new();
    private readonly FakeModules _modules;
    private readonly FakeLinks _links;

    public InitSequenceTests()
    {
        _modules = new FakeModules(_events);
        _links = new FakeLinks(_events);
        File.WriteAllText(Path.Combine(_root, "osrelease"), "6.1.0-test\n");
        var dir = Directory.CreateDirectory(Path.Combine(_root, "modules", "6.1.0-test")).FullName;
        File.WriteAllText(Path.Combine(dir, "modules.dep"), """
            kernel/fs/efivarfs/efivarfs.ko:
            kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_ring.ko:
            """);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private InitSequence Sequence() =>
        new(_log, _mounter, _modules, _links, new InitPaths(Path.Combine(_root, "modules"), Path.Combine(_root, "osrelease")), TimeSpan.Zero);

    [Fact]
    public void Boot_mounts_loads_modules_dependencies_first_then_mounts_efivarfs_and_raises_links()
    {
        _mounter.Existing.Add("/sys/firmware/efi");
        _links.Names.AddRange(["eth0", "lo"]);

        var report = Sequence().Run();

        Assert.Empty(report.Failures);
        Assert.Equal(["/proc", "/sys", "/dev", "/run", "/tmp", "/sys/firmware/efi/efivars"], _mounter.Mounted);
        Assert.Equal(["efivarfs", "virtio_ring", "virtio", "virtio_net"], _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
        Assert.True(report.EfivarfsMounted);
        Assert.Equal(["eth0", "lo"], _links.Up.Order(StringComparer.Ordinal));
    }

    private InitSequence HardwareChosen(string sysfs)
    {
        var dir = Path.Combine(_root, "modules", "6.1.0-test");
        File.WriteAllText(Path.Combine(dir, "modules.dep"), """
            kernel/fs/efivarfs/efivarfs.ko:
            kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko:
            kernel/drivers/net/ethernet/broadcom/tg3.ko: kernel/drivers/net/phy/libphy.ko
            kernel/drivers/net/phy/libphy.ko:
            kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/drivers/virtio/virtio_ring.ko:
            """);
        File.WriteAllText(Path.Combine(dir, "modules.alias"), """
            alias fs-efivarfs efivarfs
            alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
            alias pci:v000014E4d0000165Bsv*sd*bc*sc*i* tg3
            alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
            alias virtio:d00000001v* virtio_net
            """);
        return new(_log, _mounter, _modules, _links, new InitPaths(Path.Combine(_root, "modules"), Path.Combine(_root, "osrelease"), sysfs), TimeSpan.Zero);
    }

    private static void Device(string sysfs, string bus, string name, string modalias)
    {
        var dir = Directory.CreateDirectory(Path.Combine(sysfs, "bus", bus, "devices", name)).FullName;
        File.WriteAllText(Path.Combine(dir, "modalias"), modalias + "\n");
    }

    [Fact]
    public void Only_the_drivers_of_present_devices_load_with_their_dependencies_first()
    {
        var sysfs = Directory.CreateDirectory(Path.Combine(_root, "sys")).FullName;
        Device(sysfs, "pci", "0000:00:02.0", "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00"); // an e1000e NIC
        _links.Names.AddRange(["eth0", "lo"]);
        _mounter.Existing.Add("/sys/firmware/efi");

        var report = HardwareChosen(sysfs).Run();

        Assert.Empty(report.Failures);
        Assert.Equal(["e1000e", "efivarfs"], _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
        Assert.Contains(_log.Lines, l => l.EndsWith("not loaded (no device of theirs present): libphy tg3 virtio_ring virtio virtio_pci virtio_net", StringComparison.Ordinal));
    }

    [Fact]
    public void Devices_that_appear_when_a_bus_driver_loads_get_their_drivers_too()
    {
        var sysfs = Directory.CreateDirectory(Path.Combine(_root, "sys")).FullName;
        Device(sysfs, "pci", "0000:00:03.0", "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"); // virtio-net-pci
        _modules.OnLoad["virtio_pci"] = () => Device(sysfs, "virtio", "virtio0", "virtio:d00000001v00001AF4");
        _links.Names.AddRange(["eth0", "lo"]);
        _mounter.Existing.Add("/sys/firmware/efi");

        var report = HardwareChosen(sysfs).Run();

        Assert.Empty(report.Failures);
        Assert.Equal(["virtio_ring", "virtio", "virtio_pci", "virtio_net", "efivarfs"], _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
    }

    [Fact]
    public void A_link_comes_up_as_soon_as_its_driver_loads_before_the_modules_every_node_loads()
    {
        var sysfs = Directory.CreateDirectory(Path.Combine(_root, "sys")).FullName;
        Device(sysfs, "pci", "0000:00:03.0", "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"); // virtio-net-pci
        _modules.OnLoad["virtio_pci"] = () => Device(sysfs, "virtio", "virtio0", "virtio:d00000001v00001AF4");
        _modules.OnLoad["virtio_net"] = () => _links.Names.Add("eth0");
        _links.Names.Add("lo");
        _mounter.Existing.Add("/sys/firmware/efi");

        var report = HardwareChosen(sysfs).Run();

        Assert.Empty(report.Failures);
        Assert.Equal(["up lo", "load virtio_ring", "load virtio", "load virtio_pci", "load virtio_net", "sysctl eth0", "up eth0", "query eth0", "load efivarfs"],
            _events.Where(e => !e.StartsWith("sysctl ", StringComparison.Ordinal) || e == "sysctl eth0").Distinct());
        Assert.Equal(["lo", "eth0"], report.LinksUp);
        int linkLine = _log.Lines.FindIndex(l => l == "ppn: init: link eth0 up (carrier on)");
        int modulesLine = _log.Lines.FindIndex(l => l.StartsWith("ppn: init: modules loaded:", StringComparison.Ordinal));
        Assert.InRange(linkLine, 0, modulesLine - 1);
        Assert.Contains("ppn: init: early boot done: 6 mounts, 5 modules, links up: eth0 lo; 0 problem(s)", _log.Lines);
    }

    [Fact]
    public void Blind_boot_sysctls_are_written_before_any_link_comes_up()
    {
        _links.Names.AddRange(["eth0", "lo"]);
        Sequence().Run();
        int firstUp = _events.FindIndex(e => e.StartsWith("up ", StringComparison.Ordinal));
        Assert.Equal(2 * BlindBoot.Sysctls("x").Count(), _events.Take(firstUp).Count(e => e.StartsWith("sysctl all:", StringComparison.Ordinal) || e.StartsWith("sysctl default:", StringComparison.Ordinal)));
        Assert.True(_events.IndexOf("sysctl eth0") < _events.IndexOf("up eth0"));
    }

    [Fact]
    public void Each_link_is_asked_for_its_state_right_after_it_comes_up_and_lo_is_not()
    {
        _links.Names.AddRange(["eth0", "eth1", "lo"]);
        _links.Carrier["eth1"] = false;
        Sequence().Run();
        Assert.Equal(_events.IndexOf("up eth0") + 1, _events.IndexOf("query eth0"));
        Assert.Equal(_events.IndexOf("up eth1") + 1, _events.IndexOf("query eth1"));
        Assert.DoesNotContain("query lo", _events);
        Assert.Contains("ppn: init: link eth0 up (carrier on)", _log.Lines);
        Assert.Contains("ppn: init: link eth1 up (no carrier yet)", _log.Lines);
    }

    [Fact]
    public void A_failing_link_state_query_is_one_line_and_the_link_stays_up()
    {
        _links.Names.AddRange(["eth0", "lo"]);
        _links.QueryFails.Add("eth0");
        var report = Sequence().Run();
        Assert.DoesNotContain(report.Failures, f => f.Contains("eth0", StringComparison.Ordinal));
        Assert.Contains("eth0", report.LinksUp);
        Assert.Contains(_log.Lines, l => l.StartsWith("ppn: init: link eth0 up (link state unknown: ", StringComparison.Ordinal) && l.Contains("EOPNOTSUPP (test)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_link_that_appears_only_after_the_modules_is_waited_for_and_brought_up()
    {
        _links.Names.Add("lo");
        _links.OnList = calls => { if (calls == 3) _links.Names.Add("eth0"); }; // an asynchronous probe
        var sequence = new InitSequence(_log, _mounter, _modules, _links, new InitPaths(Path.Combine(_root, "modules"), Path.Combine(_root, "osrelease")), TimeSpan.FromSeconds(30));
        var report = sequence.Run();
        Assert.Equal(["lo", "eth0"], report.LinksUp);
        Assert.DoesNotContain(report.Failures, f => f.Contains("no network interface", StringComparison.Ordinal));
    }

    [Fact]
    public void A_damaged_modules_alias_is_reported_and_every_module_still_loads()
    {
        var sysfs = Directory.CreateDirectory(Path.Combine(_root, "sys")).FullName;
        var sequence = HardwareChosen(sysfs);
        File.WriteAllText(Path.Combine(_root, "modules", "6.1.0-test", "modules.alias"), "alias broken\n");
        _links.Names.AddRange(["eth0", "lo"]);

        var report = sequence.Run();

        Assert.Contains(report.Failures, f => f.Contains("modules.alias:1", StringComparison.Ordinal) && f.Contains("loading every module", StringComparison.Ordinal));
        Assert.Equal(8, _modules.Loaded.Count);
    }

    [Fact]
    public void Blind_boot_refuses_router_advertisements_everywhere()
    {
        _links.Names.AddRange(["eth0", "lo"]);
        Sequence().Run();
        foreach (var scope in new[] { "all", "default", "eth0" })
        {
            Assert.Equal("0", _links.Sysctls[$"net/ipv6/conf/{scope}/accept_ra"]);
            Assert.Equal("0", _links.Sysctls[$"net/ipv6/conf/{scope}/autoconf"]);
        }
    }

    [Fact]
    public void Links_come_up_with_optimistic_duplicate_address_detection()
    {
        _links.Names.AddRange(["eth0", "lo"]);
        Sequence().Run();
        foreach (var scope in new[] { "all", "default", "eth0" })
        {
            Assert.Equal("1", _links.Sysctls[$"net/ipv6/conf/{scope}/optimistic_dad"]);
            Assert.Equal("1", _links.Sysctls[$"net/ipv6/conf/{scope}/use_optimistic"]);
        }
    }

    [Fact]
    public void A_module_that_fails_is_reported_and_the_others_still_load()
    {
        _links.Names.Add("eth0");
        _modules.Failing.Add("virtio");

        var report = Sequence().Run();

        Assert.Contains(report.Failures, f => f.StartsWith("module virtio:", StringComparison.Ordinal));
        Assert.Contains("virtio_net", _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
        Assert.Contains(_log.Lines, l => l.Contains("problem: module virtio:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_node_not_booted_through_uefi_is_told_so_and_still_comes_up()
    {
        _links.Names.Add("eth0");
        var report = Sequence().Run();
        Assert.False(report.EfivarfsMounted);
        Assert.Contains(report.Failures, f => f.Contains("did not boot through UEFI", StringComparison.Ordinal));
        Assert.Equal(["eth0"], report.LinksUp);
    }

    [Fact]
    public void No_network_interface_is_a_reported_problem_not_a_hang()
    {
        _links.Names.Add("lo");
        var report = Sequence().Run();
        Assert.Contains(report.Failures, f => f.Contains("no network interface appeared", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failing_mount_does_not_stop_boot()
    {
        _mounter.Failing.Add("/run");
        _links.Names.Add("eth0");
        var report = Sequence().Run();
        Assert.Contains(report.Failures, f => f.StartsWith("mount tmpfs on /run", StringComparison.Ordinal));
        Assert.Contains("/tmp", _mounter.Mounted);
        Assert.Equal(["eth0"], report.LinksUp);
    }

    private sealed class RecordingLog : ILog
    {
        public List<string> Lines { get; } = new();
        public void Write(string area, string message) => Lines.Add($"ppn: {area}: {message}");
    }

    private sealed class FakeMounter : IMounter
    {
        public List<string> Mounted { get; } = new();
        public HashSet<string> Existing { get; } = new();
        public HashSet<string> Failing { get; } = new();

        public bool Mount(MountSpec spec)
        {
            if (Failing.Contains(spec.Target))
            {
                throw new IOException("mount failed (test)");
            }
            Mounted.Add(spec.Target);
            return true;
        }

        public bool DirectoryExists(string path) => Existing.Contains(path);
    }

    private sealed class FakeModules(List<string> events) : IModuleLoader
    {
        public List<string> Loaded { get; } = new();
        public HashSet<string> Failing { get; } = new();
        /// <summary>What loading a module does to the twin sysfs (a bus driver makes its devices appear).</summary>
        public Dictionary<string, Action> OnLoad { get; } = new();

        public bool Load(string path)
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (Failing.Contains(name))
            {
                throw new IOException("finit_module failed (test)");
            }
            Loaded.Add(path);
            events.Add($"load {name}");
            if (OnLoad.TryGetValue(name, out var effect)) effect();
            return true;
        }
    }

    /// <summary>Links as sysfs lists them; SetUp, QueryCarrier and sysctl writes recorded in order with the module loads.</summary>
    private sealed class FakeLinks(List<string> events) : ILinkControl
    {
        private int _listCalls;
        public List<string> Names { get; } = new();
        public List<string> Up { get; } = new();
        public Dictionary<string, string> Sysctls { get; } = new();
        /// <summary>What QueryCarrier answers per link (absent: carrier on).</summary>
        public Dictionary<string, bool> Carrier { get; } = new();
        /// <summary>Links whose query fails as a driver without get_link does.</summary>
        public HashSet<string> QueryFails { get; } = new();
        /// <summary>Runs before each List with how many calls came before it (a link that appears late).</summary>
        public Action<int>? OnList { get; set; }

        public IReadOnlyList<string> List()
        {
            OnList?.Invoke(_listCalls++);
            return Names.Order(StringComparer.Ordinal).ToList();
        }

        public void SetUp(string name)
        {
            Up.Add(name);
            events.Add($"up {name}");
        }

        public bool QueryCarrier(string name)
        {
            events.Add($"query {name}");
            return QueryFails.Contains(name) ? throw new IOException("ioctl(SIOCETHTOOL, GLINK) failed: EOPNOTSUPP (test)") : Carrier.GetValueOrDefault(name, true);
        }

        public void WriteSysctl(string relativePath, string value)
        {
            Sysctls[relativePath] = value;
            var scope = relativePath.Split('/')[3];
            events.Add(scope is "all" or "default" ? $"sysctl {scope}:{relativePath}" : $"sysctl {scope}");
        }
    }
}
