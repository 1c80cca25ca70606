using System.Globalization;
using Ppn.Rig.Emulation;
using Ppn.Rig.Net;

namespace Ppn.Rig;

/// <summary>
/// One rig run: a private network namespace with one tap (the emulated link), a work directory for
/// NVRAM files and console logs, and the nodes made on it. Nodes share the tap, so one runs at a time.
/// Dispose kills every node and deletes the namespace, also after a failed test.
/// </summary>
public sealed class Rig : IDisposable
{
    public const string TapName = "tap0";
    public const string BridgeName = "br0";
    private readonly List<QemuNode> _nodes = [];
    private readonly EmulatorSlot? _slot;

    private readonly string? _borrowedLink;

    private Rig(NetworkNamespace ns, string workDirectory, EmulatorSlot? slot = null, string link = TapName, bool borrowed = false)
    {
        Namespace = ns;
        WorkDirectory = workDirectory;
        _slot = slot;
        Link = link;
        _borrowedLink = borrowed ? link : null;
    }

    public NetworkNamespace Namespace { get; }
    public string WorkDirectory { get; }

    /// <summary>The rig's link inside its namespace: <see cref="TapName"/>, or a bench NIC (<see cref="CreateOnLink"/>).</summary>
    public string Link { get; }

    public NodeNetwork Network => new(Namespace, Link);

    /// <summary>
    /// A rig on a real link: the host NIC <paramref name="hostInterface"/> that the bench boards are cabled to (directly or
    /// through a switch) is moved into the rig's namespace for the run, up, with DAD off, and given back to the host
    /// namespace on Dispose (the kernel also returns it when the namespace dies). Nothing else of the host's is touched.
    /// </summary>
    public static Rig CreateOnLink(string runName, string hostInterface)
    {
        if (!RigEnvironment.IsRoot)
        {
            throw new Model.RigInfrastructureException(Model.RigFault.NotRoot, "a bench rig moves its link into a network namespace: run as root");
        }
        NetworkNamespace.DeleteStale();
        if (!Directory.Exists($"/sys/class/net/{hostInterface}"))
        {
            throw new Model.RigInfrastructureException(Model.RigFault.LinkMissing,
                $"the rig link {hostInterface} is not a network interface of this host (ip link; the rig file's 'link:')");
        }
        var work = Path.Combine(RigEnvironment.WorkRoot, string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{runName}-{Environment.ProcessId}"));
        Directory.CreateDirectory(work);
        var ns = NetworkNamespace.Create();
        try
        {
            HostCommand.Run("ip", "link", "set", "dev", hostInterface, "netns", ns.Name);
            var rig = new Rig(ns, work, link: hostInterface, borrowed: true);
            ns.RunInside(() =>
            {
                File.WriteAllText($"/proc/sys/net/ipv6/conf/{hostInterface}/accept_dad", "0");
                return 0;
            }, TimeSpan.FromSeconds(10));
            HostCommand.Run("ip", "-n", ns.Name, "link", "set", hostInterface, "up");
            return rig;
        }
        catch
        {
            HostCommand.Run("ip", ["-n", ns.Name, "link", "set", "dev", hostInterface, "netns", "1"], check: false);
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Deletes what crashed runs left, then makes the namespace, the tap and the work directory.</summary>
    public static Rig Create(string runName)
    {
        RigEnvironment.RequireEmulation();
        NetworkNamespace.DeleteStale();
        var work = Path.Combine(RigEnvironment.WorkRoot, string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{runName}-{Environment.ProcessId}"));
        Directory.CreateDirectory(work);
        var ns = NetworkNamespace.Create();
        try
        {
            ns.AddTap(TapName);
            return new Rig(ns, work);
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An emulated LAN: one bridge (<see cref="BridgeName"/>, where the rig itself sits: beacons, registrar, its
    /// own mesh peer) with <paramref name="ports"/> taps, one per node, all in the rig's namespace. The rig takes
    /// the machine's emulator slot for the whole LAN, so its nodes run together.
    /// </summary>
    public static Rig CreateLan(string runName, int ports)
    {
        var slot = EmulatorSlot.Acquire();
        Rig? rig = null;
        try
        {
            var single = Create(runName);
            rig = new Rig(single.Namespace, single.WorkDirectory, slot);
            var ns = rig.Namespace;
            HostCommand.Run("ip", "-n", ns.Name, "link", "add", BridgeName, "type", "bridge");
            ns.RunInside(() =>
            {
                File.WriteAllText($"/proc/sys/net/ipv6/conf/{BridgeName}/accept_dad", "0");
                return 0;
            }, TimeSpan.FromSeconds(10));
            HostCommand.Run("ip", "-n", ns.Name, "link", "set", BridgeName, "up");
            for (int i = 0; i < ports; i++)
            {
                var tap = i == 0 ? TapName : ns.AddTap(LanTap(i));
                HostCommand.Run("ip", "-n", ns.Name, "link", "set", tap, "master", BridgeName);
            }
            return rig;
        }
        catch
        {
            if (rig is not null) rig.Dispose();
            else slot.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Cuts (down) or heals (up) LAN port <paramref name="port"/> on the rig's side, as pulling and replugging the
    /// node's cable at the switch: frames between the node and the LAN are dropped while it is down.
    /// </summary>
    public void SetLanPort(int port, bool up)
    {
        HostCommand.Run("ip", "-n", Namespace.Name, "link", "set", LanTap(port), up ? "up" : "down");
        foreach (var node in _nodes.Where(n => n.Network?.Tap == LanTap(port)))
        {
            node.Console.Note($"LAN port {port} {(up ? "healed" : "cut")}");
        }
    }

    /// <summary>The tap of LAN port <paramref name="port"/> (port 0 is <see cref="TapName"/>).</summary>
    public static string LanTap(int port) => port == 0 ? TapName : string.Create(CultureInfo.InvariantCulture, $"tap{port}");

    /// <summary>A node with a factory-new NVRAM on LAN port <paramref name="port"/> of a <see cref="CreateLan"/> rig. Not powered on.</summary>
    public QemuNode LanNode(string name, BootSource boot, int port, System.Net.NetworkInformation.PhysicalAddress? mac = null)
    {
        if (_slot is null) throw new InvalidOperationException("LanNode needs a rig made by Rig.CreateLan");
        return AddNode(name, boot, new NodeNetwork(Namespace, LanTap(port)), NicModel.VirtioNet, mac ?? MacAddress.NewEmulated(), slotHeldByRig: true);
    }

    /// <summary>A node with a factory-new NVRAM and a new MAC, on the rig's link. Not powered on.</summary>
    public QemuNode FactoryNewNode(string name, BootSource boot, NicModel nic = NicModel.VirtioNet) =>
        AddNode(name, boot, Network, nic, MacAddress.NewEmulated(), slotHeldByRig: false);

    private QemuNode AddNode(string name, BootSource boot, NodeNetwork? network, NicModel nic, System.Net.NetworkInformation.PhysicalAddress mac, bool slotHeldByRig)
    {
        var nvram = Path.Combine(WorkDirectory, $"{name}.OVMF_VARS.fd");
        NvramFile.CreateFactoryNew(nvram);
        var node = new QemuNode(new QemuNodeOptions
        {
            Name = name,
            Boot = boot,
            NvramPath = nvram,
            LogDirectory = WorkDirectory,
            Network = network,
            Nic = nic,
            Mac = mac,
            SlotHeldByRig = slotHeldByRig,
        });
        _nodes.Add(node);
        return node;
    }

    public void Dispose()
    {
        List<Exception> errors = [];
        Disposal.Each(_nodes, errors);
        if (_borrowedLink is { } link)
        {
            HostCommand.Run("ip", ["-n", Namespace.Name, "link", "set", "dev", link, "netns", "1"], check: false);
        }
        Namespace.Dispose();
        _slot?.Dispose();
        if (errors.Count > 0)
        {
            throw new AggregateException("the rig could not stop every node", errors);
        }
    }
}
