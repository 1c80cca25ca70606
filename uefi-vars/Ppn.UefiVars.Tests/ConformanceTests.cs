using Ppn.UefiVars.Conformance;
using Ppn.UefiVars.Testing;

namespace Ppn.UefiVars.Tests;

public sealed class ConformanceTests
{
    [Fact]
    public void Conformance_suite_passes_on_the_twin_and_leaves_no_scratch_variables()
    {
        using var nvram = new TempDirEfivarfs();
        var keep = VariableName.Ppn("PpnIdentity");
        nvram.Seed(keep, VariableAttributes.NonVolatileBootRuntime, [1, 2]);
        var log = new List<string>();
        var results = VariableStoreConformance.Run(nvram, log.Add);
        Assert.All(results, r => Assert.True(r.Passed, r.ToString()));
        Assert.Contains(results, r => r.Name.Contains("0600"));
        Assert.Equal(new[] { keep }, nvram.List());
        Assert.Equal(results.Count, log.Count(l => l.StartsWith("PASS", StringComparison.Ordinal)));
    }

    [Fact]
    public void Conformance_suite_also_runs_on_the_bare_store_and_sweeps_leftovers_of_an_interrupted_run()
    {
        using var nvram = new TempDirEfivarfs();
        nvram.Seed(VariableName.Ppn("PpnSelfTestLeftover"), VariableAttributes.NonVolatileBootRuntime, [1]);
        var results = VariableStoreConformance.Run(nvram.Store);
        Assert.All(results, r => Assert.True(r.Passed, r.ToString()));
        Assert.Empty(nvram.List());
    }

    [Fact]
    public void Conformance_suite_reports_failures_instead_of_throwing()
    {
        using var nvram = new TempDirEfivarfs();
        nvram.Kernel.Privileged = false; // rewrites cannot clear the immutable flag
        var results = VariableStoreConformance.Run(nvram);
        Assert.Contains(results, r => !r.Passed && r.Detail.Contains("PermissionDenied"));
    }
}
