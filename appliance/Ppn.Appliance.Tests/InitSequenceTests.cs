using Ppn.Appliance.Init;

namespace Ppn.Appliance.Tests;

public sealed class InitSequenceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ppn-init-").FullName;
    private readonly RecordingLog _log = new();
    private readonly FakeMounter _mounter = new();
    private readonly FakeModules _modules = new();
    private readonly FakeLinks _links = new();

    public InitSequenceTests()
    {
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
        Assert.Equal(["eth0", "lo"], _links.Up);
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
        Assert.Equal(["efivarfs", "e1000e"], _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
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
        Assert.Equal(["efivarfs", "virtio_ring", "virtio", "virtio_pci", "virtio_net"], _modules.Loaded.Select(Path.GetFileNameWithoutExtension));
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

    private sealed class FakeModules : IModuleLoader
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
            if (OnLoad.TryGetValue(name, out var effect)) effect();
            return true;
        }
    }

    private sealed class FakeLinks : ILinkControl
    {
        public List<string> Names { get; } = new();
        public List<string> Up { get; } = new();
        public Dictionary<string, string> Sysctls { get; } = new();
        public IReadOnlyList<string> List() => Names.Order(StringComparer.Ordinal).ToList();
        public void SetUp(string name) => Up.Add(name);
        public void WriteSysctl(string relativePath, string value) => Sysctls[relativePath] = value;
    }
}
