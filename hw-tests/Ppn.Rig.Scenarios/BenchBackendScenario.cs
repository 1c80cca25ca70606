using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// The bench path end to end without bench hardware: the catalog's scenarios on the bench backend (BenchNode,
/// ConsoleCapture over SerialConsole, the IPowerSwitch seam) with emulated boards behind it — power is the board's
/// QEMU process (started, SIGKILLed, read back), the console its pty through the same termios code as a USB serial
/// (docs/hw-tests.md §The bench path without a bench).
/// </summary>
public class BenchBackendScenario(ITestOutputHelper output)
{
    private readonly TextWriter _progress = new TestOutputWriter(output);

    [FullScenario]
    public void On_the_bench_backend_the_identity_survives_a_cut_of_the_board_supply() =>
        ScenarioRunner.RunForTest("self-genesis-power-cut", _progress, new EmulatedBenchBackend());

    [FullScenario]
    public void On_the_bench_backend_a_command_captured_before_a_power_cut_is_rejected_as_a_replay_after_it() =>
        ScenarioRunner.RunForTest("replay-after-reboot", _progress, new EmulatedBenchBackend());
}
