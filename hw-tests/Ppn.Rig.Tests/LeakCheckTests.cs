using Ppn.Rig.Net;

namespace Ppn.Rig.Tests;

/// <summary>
/// scripts/leak-check.sh, which ends make test and make hil: it must name what a run left behind, and say nothing of
/// what was removed. Other test assemblies run beside this one, so only this test's own objects are asserted.
/// </summary>
public class LeakCheckTests
{
    private static readonly string Script = Path.Combine(RigEnvironment.RepoRoot, "scripts", "leak-check.sh");

    [RigFact]
    public void A_namespace_and_a_temp_dir_left_behind_are_named_and_gone_once_removed()
    {
        var work = Directory.CreateTempSubdirectory("leakcheck-").FullName;
        try
        {
            var before = Path.Combine(work, "before.txt");
            HostCommand.Run("bash", Script, "snapshot", before);
            string leakedName;
            var leakedDir = Directory.CreateTempSubdirectory("ppn-leakcheck-").FullName;
            using (var ns = NetworkNamespace.Create())
            {
                leakedName = ns.Name;
                var report = Compare(before);
                Assert.Contains($"LEAKED: netns {leakedName}", report.Output);
                Assert.Contains($"LEAKED: tmp {leakedDir}", report.Output);
                Assert.Equal(1, report.ExitCode);
            }
            Directory.Delete(leakedDir);
            var after = Compare(before);
            Assert.DoesNotContain(leakedName, after.Output);
            Assert.DoesNotContain(leakedDir, after.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Compare(string before)
    {
        var result = HostCommand.Run("env", ["LEAK_CHECK_GRACE=0", "bash", Script, "compare", before], check: false);
        return (result.ExitCode, result.StandardOutput);
    }
}
