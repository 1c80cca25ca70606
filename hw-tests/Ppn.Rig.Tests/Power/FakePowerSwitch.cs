using Ppn.Rig.Power;

namespace Ppn.Rig.Tests.Power;

/// <summary>A test twin: a port whose state is a field, with a log of what was asked, and the faults a real hub has.</summary>
public sealed class FakePowerSwitch(string name = "fake port") : IPowerSwitch
{
    private readonly List<PortPower> _history = [];

    public string Describe => name;
    public PortPower Current { get; private set; } = PortPower.Off;
    public IReadOnlyList<PortPower> History => _history;

    /// <summary>Thrown by <see cref="Status"/> (a hub that is gone or answers garbage).</summary>
    public Exception? StatusFault { get; set; }

    /// <summary>Thrown by <see cref="Set"/>(Off), the port staying on (a port that will not power off).</summary>
    public Exception? OffFault { get; set; }

    /// <summary>Thrown by <see cref="Set"/>(On) after the port came on (powered, but the read-back failed).</summary>
    public Exception? OnFault { get; set; }

    public PortPower Status() => StatusFault is { } fault ? throw fault : Current;

    public void Set(PortPower power)
    {
        lock (_history)
        {
            _history.Add(power);
            if (power == PortPower.Off && OffFault is { } fault)
            {
                throw fault;
            }
            Current = power;
            if (power == PortPower.On && OnFault is { } half)
            {
                throw half;
            }
        }
    }
}
