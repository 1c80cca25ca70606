using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Power;

namespace Ppn.Rig;

/// <summary>The real power switch and console of a node named in a rig file, by its backend.</summary>
public static class RigBackends
{
    public static IPowerSwitch PowerFor(RigConfig rig, NodeSpec node) => node.Backend switch
    {
        NodeBackend.Qemu => new DetachedQemuNode(node, rig.Name),
        _ => new Power.Usb.UsbHubPowerSwitch(node.Power!, Power.Usb.LibUsbBus.Open()),
    };

    public static IConsolePort ConsoleFor(NodeSpec node) => node.Console switch
    {
        ConsoleEndpoint.QemuSocket q => new QemuSocketConsole(q.Path),
        ConsoleEndpoint.Serial s => new SerialConsole(s.Device, s.Baud),
        _ => throw new ArgumentException($"node {node.Name}: unknown console {node.Console}"),
    };
}
