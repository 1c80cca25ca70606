using Ppn.Rig;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Ppn.Rig.Scenarios;

/// <summary>
/// A scenario in the quick set: runs in `make test` and `make hil`. Skipped only where no rig can run
/// (not root, no QEMU/OVMF); a missing node image is a failure, not a skip.
/// </summary>
public sealed class QuickScenarioAttribute : FactAttribute
{
    public QuickScenarioAttribute()
    {
        if (RigEnvironment.WhyEmulationUnavailable() is { } why)
        {
            Skip = why;
        }
    }
}

/// <summary>A long scenario: runs only in `make hil` (PPN_HIL=full).</summary>
public sealed class FullScenarioAttribute : FactAttribute
{
    public const string NotSelected = "long scenario: runs only in `make hil` (PPN_HIL=full)";

    public FullScenarioAttribute()
    {
        if (!RigEnvironment.FullHil)
        {
            Skip = NotSelected;
        }
        else if (RigEnvironment.WhyEmulationUnavailable() is { } why)
        {
            Skip = why;
        }
    }
}
