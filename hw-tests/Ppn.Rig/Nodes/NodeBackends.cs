using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;
using Ppn.Rig.Power;

namespace Ppn.Rig;

/// <summary>
/// Where a scenario's nodes come from. Scenarios ask the context for a rig and for nodes on it; the backend decides
/// what a rig link and a node are. <see cref="Abilities"/> is what every node of the backend can do beyond power,
/// console and link; the runner skips a scenario needing more, with the reason.
/// </summary>
public interface INodeBackend
{
    /// <summary>"qemu", "bench-emulated", "bench:&lt;rig&gt;".</summary>
    string Name { get; }

    NodeAbilities Abilities { get; }

    /// <summary>How many separate machines there are (a bench rig file's boards); null: as many as asked.</summary>
    int? Machines { get; }

    /// <summary>A fresh rig: namespace, link, work directory.</summary>
    Rig CreateRig(string name);

    /// <summary>A node on <paramref name="rig"/>'s link, powered off. <paramref name="boot"/> and <paramref name="nic"/> count only with <see cref="NodeAbilities.BootControl"/> / <see cref="NodeAbilities.NicChoice"/>.</summary>
    IRigNode NewNode(Rig rig, string name, BootSource boot, NicModel nic);
}

/// <summary>The emulated backend: <see cref="QemuNode"/>s on a tap in the rig's namespace, every ability.</summary>
public sealed class EmulatedBackend : INodeBackend
{
    public string Name => "qemu";

    public NodeAbilities Abilities => NodeAbilities.NvramFile | NodeAbilities.FactoryReset | NodeAbilities.ResetButton
        | NodeAbilities.BootControl | NodeAbilities.NicChoice | NodeAbilities.Lan | NodeAbilities.SeesExit;

    public int? Machines => null;

    public Rig CreateRig(string name) => Rig.Create(name);

    public IRigNode NewNode(Rig rig, string name, BootSource boot, NicModel nic) => rig.FactoryNewNode(name, boot, nic);
}

/// <summary>
/// The bench backend with emulated boards: each node is a <see cref="BenchNode"/> — the same code that drives a
/// real board — whose power switch is an <see cref="EmulatedBoard"/> (its QEMU process started and SIGKILLed, read
/// back) and whose console is the board's pty read through <see cref="SerialConsole"/> (termios, poll, reopen). What
/// is emulated: the board itself (QEMU q35/OVMF), its supply (the process), the serial adapter (a pty behind a
/// by-id style link) and its cable (the tap). The board boots the scenario's boot source, so it has
/// <see cref="NodeAbilities.BootControl"/> — a real board does not — and nothing else: no NVRAM file, reset button
/// or factory reset reach the scenario, and it never sees the emulator exit.
/// </summary>
public sealed class EmulatedBenchBackend : INodeBackend
{
    public string Name => "bench-emulated";

    public NodeAbilities Abilities => NodeAbilities.BootControl;

    public int? Machines => null;

    public Rig CreateRig(string name) => Rig.Create(name);

    public IRigNode NewNode(Rig rig, string name, BootSource boot, NicModel nic)
    {
        var nvram = Path.Combine(rig.WorkDirectory, $"{name}.board.OVMF_VARS.fd");
        NvramFile.CreateFactoryNew(nvram);
        var mac = MacAddress.NewEmulated();
        var board = new EmulatedBoard(name, boot, nvram, rig.Network, mac, rig.WorkDirectory);
        try
        {
            return new BenchNode(name, mac, board, new SerialConsole(board.SerialLink, 115200), new BenchNodeOptions
            {
                Network = rig.Network,
                LogDirectory = rig.WorkDirectory,
                Abilities = NodeAbilities.BootControl,
                Backend = "bench (emulated board)",
            });
        }
        catch
        {
            board.Dispose();
            throw;
        }
    }
}

/// <summary>
/// The bench backend: the rig file's bench boards, in file order, as a scenario's nodes (its node-a is the first
/// board, node-b the second); power through their USB hub ports (libusb), consoles through their USB serials
/// (termios), their NICs on the rig file's <c>link:</c> moved into the rig's namespace. A board boots what is
/// flashed on it: none of the emulated-only abilities.
/// </summary>
public sealed class BenchBackend(RigConfig config) : INodeBackend
{
    private readonly IReadOnlyList<NodeSpec> _boards = config.Nodes.Where(n => n.Backend == NodeBackend.Bench).ToArray();
    private readonly Dictionary<Rig, int> _used = [];

    public string Name => $"bench:{config.Name}";

    public NodeAbilities Abilities => NodeAbilities.None;

    public int? Machines => _boards.Count;

    public Rig CreateRig(string name)
    {
        if (config.Link is not { } link)
        {
            throw new RigInfrastructureException(RigFault.ConfigInvalid,
                $"{config.Source}: a bench run needs 'link:', the host interface the boards' NICs are cabled to");
        }
        return Rig.CreateOnLink(name, link);
    }

    public IRigNode NewNode(Rig rig, string name, BootSource boot, NicModel nic)
    {
        int next = _used.GetValueOrDefault(rig);
        if (next >= _boards.Count)
        {
            throw new RigInfrastructureException(RigFault.ConfigInvalid,
                $"{config.Source}: the scenario asked for a node '{name}' but the rig has only {_boards.Count} bench board(s)");
        }
        _used[rig] = next + 1;
        var spec = _boards[next];
        var serial = (ConsoleEndpoint.Serial)spec.Console;
        var bus = Power.Usb.LibUsbBus.Open();
        try
        {
            var power = new Power.Usb.UsbHubPowerSwitch(spec.Power!, bus);
            return new BenchNode(spec.Name, spec.Mac, power, new SerialConsole(serial.Device, serial.Baud), new BenchNodeOptions
            {
                Network = rig.Network,
                LogDirectory = rig.WorkDirectory,
                Owned = bus,
            });
        }
        catch
        {
            bus.Dispose(); // a hub not found or unreadable: the node never owned the libusb context
            throw;
        }
    }
}

/// <summary>Backends by name, for `ppn-rig run --backend`.</summary>
public static class NodeBackendNames
{
    public const string Help = "qemu (emulated nodes, default) | bench-emulated (the bench code on QEMU boards: process power, pty serial) | bench (the rig file's boards)";

    public static INodeBackend Parse(string name, Func<RigConfig> rigFile) => name switch
    {
        "qemu" => new EmulatedBackend(),
        "bench-emulated" => new EmulatedBenchBackend(),
        "bench" => new BenchBackend(rigFile()),
        _ => throw new ArgumentException($"unknown backend '{name}': {Help}"),
    };
}
