using Ppn.Rig;

namespace Ppn.Rig.Tests;

/// <summary>A test that runs real QEMU / namespaces; skipped with the reason where the host cannot host a rig.</summary>
public sealed class RigFactAttribute : FactAttribute
{
    public RigFactAttribute()
    {
        if (RigEnvironment.WhyEmulationUnavailable() is { } why)
        {
            Skip = why;
        }
    }
}

/// <summary>Tests that boot an emulated node share one collection: one VM at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EmulatorCollection
{
    public const string Name = "emulator";
}
