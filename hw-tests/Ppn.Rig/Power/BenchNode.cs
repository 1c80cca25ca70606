using Ppn.Rig.Consoles;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Power;

/// <summary>
/// A real board on the bench: its power switch (a USB hub port) and its continuously captured console. A
/// power-off counts only when the port reads back off and the console then stays silent for a bounded time
/// (a board still printing is still powered, whatever the hub says: a second supply, a back-powering adapter).
/// </summary>
public sealed class BenchNode(NodeSpec spec, IPowerSwitch power, ConsoleCapture console, TimeSpan? drainGrace = null) : IDisposable
{
    /// <summary>Lines the UART had buffered when the power went may still drain in this window.</summary>
    public TimeSpan DrainGrace { get; } = drainGrace ?? TimeSpan.FromMilliseconds(500);

    public NodeSpec Spec => spec;
    public IPowerSwitch Power => power;
    public ConsoleCapture Console => console;
    public NodeLifecycle Lifecycle { get; } = new(spec.Name, QemuNode.DefaultHoldingTimeout);

    public void PowerOn()
    {
        power.Set(PortPower.On);
        Lifecycle.MoveTo(NodeState.Booting, $"power on ({power.Describe}, read back on)");
    }

    /// <summary>Cuts the power, confirmed by the port status and then by <paramref name="silence"/> of console silence.</summary>
    public void PowerOff(TimeSpan silence)
    {
        power.Set(PortPower.Off);
        Lifecycle.Note($"power cut ({power.Describe}, read back off)");
        var log = console.Log;
        var cutAt = log.Elapsed;
        var window = Deadline.After(silence);
        int from = log.Count;
        ConsoleLine? spoke;
        while ((spoke = log.TryWaitForLine(AnyLine, window.Remaining, from)) is not null && spoke.SincePowerOn < cutAt + DrainGrace)
        {
            from = spoke.Index + 1; // drained from the UART's buffer, not printed after the cut
        }
        if (spoke is not null)
        {
            Lifecycle.Note($"console still printing after the cut: {spoke.Text}");
            throw new RigInfrastructureException(RigFault.PowerNotConfirmed,
                $"node {spec.Name}: the hub reads port {power.Describe} off, but the console still printed after the cut: '{spoke.Text}'. " +
                "Is the board powered from elsewhere (barrel jack, back-powering serial adapter)?");
        }
        Lifecycle.MoveTo(NodeState.Off, $"power off confirmed: port reads off, console silent for {BoundedWait.Format(silence)}");
    }

    private static readonly System.Text.RegularExpressions.Regex AnyLine = new("");

    public void Dispose() => console.Dispose();
}
