namespace Ppn.Rig.Power;

public enum PortPower
{
    Off,
    On,
}

/// <summary>
/// The power of one node: a USB hub port on the bench, QMP for an emulated node. <see cref="Set"/> returns only
/// once the new state is confirmed by reading it back (a hub's port status, QEMU's QMP socket), and throws
/// <see cref="Model.RigInfrastructureException"/> when it cannot be: a switch that did not switch is a rig fault.
/// </summary>
public interface IPowerSwitch
{
    /// <summary>What this switch drives, for logs ("USB hub 1-1.4 port 2 (sysfs)", "QMP /tmp/…").</summary>
    string Describe { get; }

    PortPower Status();

    void Set(PortPower power);
}

public static class PowerSwitchExtensions
{
    /// <summary>Off, confirmed, then on: a power cycle.</summary>
    public static void Cycle(this IPowerSwitch power)
    {
        power.Set(PortPower.Off);
        power.Set(PortPower.On);
    }
}
