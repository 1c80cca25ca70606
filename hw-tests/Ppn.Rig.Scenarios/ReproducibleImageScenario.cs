using Ppn.Rig;
using Xunit.Abstractions;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// docs/image.md's guarantee: two clean clones of one commit at different paths, each running `make image`, give the
/// same sha256 for every file in out/image/ (scripts/reproducible-image.sh). Two full builds: make hil only.
/// </summary>
public class ReproducibleImageScenario(ITestOutputHelper output)
{
    [FullScenario]
    public void Two_clones_at_different_paths_build_identical_images()
    {
        var script = Path.Combine(RigEnvironment.RepoRoot, "scripts", "reproducible-image.sh");
        var result = HostCommand.Run("bash", [script], TimeSpan.FromMinutes(40), check: false);
        output.WriteLine(result.StandardOutput);
        output.WriteLine(result.StandardError);
        Assert.True(result.ExitCode == 0, $"reproducible-image.sh exited {result.ExitCode}:\n{result.StandardOutput}");
        Assert.Contains("identical out/image/ at two paths", result.StandardOutput);
        Assert.DoesNotContain("DIFFERS", result.StandardOutput);
    }
}
