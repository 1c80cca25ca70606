using Ppn.Rig.Power;

namespace Ppn.Rig.Tests.Power;

/// <summary>A test twin: a port whose state is a field, with a log of what was asked.</summary>
public sealed class FakePowerSwitch(string name = "fake port") : IPowerSwitch
{
    private readonly List<PortPower> _history = [];

    public string Describe => name;
    public PortPower Current { get; private set; } = PortPower.Off;
    public IReadOnlyList<PortPower> History => _history;

    public PortPower Status() => Current;

    public void Set(PortPower power)
    {
        _history.Add(power);
        Current = power;
    }
}
