using Ppn.Rig.Running;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// docs/image.md's guarantee: two clean clones of one commit at different paths build identical images
/// (scripts/reproducible-image.sh). Two full builds: make hil only. Body in Ppn.Rig/Running/ImageScenarios.cs.
/// </summary>
public class ReproducibleImageScenario(ITestOutputHelper output)
{
    [FullScenario]
    public void Two_clones_at_different_paths_build_identical_images() =>
        ScenarioRunner.RunForTest("reproducible-image", new TestOutputWriter(output));
}
