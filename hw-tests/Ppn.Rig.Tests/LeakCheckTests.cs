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
        string? leakedDir = null;
        try
        {
            var before = Path.Combine(work, "before.txt");
            HostCommand.Run("bash", Script, "snapshot", before);
            string leakedName;
            leakedDir = Directory.CreateTempSubdirectory("ppn-leakcheck-").FullName;
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
            // Also when an assertion failed: a ppn* entry left in /tmp is exactly what the suite's own leak check reports.
            if (leakedDir is not null && Directory.Exists(leakedDir)) Directory.Delete(leakedDir);
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The first <c>ip netns add</c> on a machine bind-mounts /run/netns onto itself and no <c>ip netns delete</c>
    /// takes it down: on a fresh machine that mount is what a run leaves. tidy removes it when this run made it and
    /// it is empty, and keeps one that was there before or still holds a namespace. Each case runs in a private
    /// mount namespace over a fresh /run, with the host's /run/netns detached in that copy, so neither the host's mounts
    /// nor other tests' namespaces are touched or seen. /tmp, the processes and the root namespace's links are still
    /// the host's, which other test assemblies change meanwhile: compare's report is read for this case's own objects only.
    /// </summary>
    [RigFact]
    public void Tidy_unmounts_the_run_netns_mount_only_when_this_run_made_it_and_it_is_empty()
    {
        var made = InFreshRun("""
            scripts/leak-check.sh snapshot before.txt
            ip netns add ppnt-tidy-a; ip netns delete ppnt-tidy-a
            mountpoint -q /run/netns && echo mounted-by-run
            scripts/leak-check.sh tidy before.txt
            mountpoint -q /run/netns || echo gone
            LEAK_CHECK_GRACE=0 scripts/leak-check.sh compare before.txt | grep -c -e '^LEAKED: netns ppnt-tidy-a$' -e '^LEAKED: mount /run/netns (' || true
            """);
        Assert.Equal(["mounted-by-run", "leak-check: /run/netns unmounted (this run's first 'ip netns add' had bind-mounted it)", "gone", "0"], made);

        var holding = InFreshRun("""
            scripts/leak-check.sh snapshot before.txt
            ip netns add ppnt-tidy-b
            scripts/leak-check.sh tidy before.txt
            mountpoint -q /run/netns && echo still-mounted
            ip netns delete ppnt-tidy-b
            """);
        Assert.Equal(["leak-check: /run/netns left mounted: namespaces are still in it", "still-mounted"], holding);

        var before = InFreshRun("""
            ip netns add ppnt-tidy-c; ip netns delete ppnt-tidy-c
            scripts/leak-check.sh snapshot before.txt
            scripts/leak-check.sh tidy before.txt
            mountpoint -q /run/netns && echo kept
            """);
        Assert.Equal(["kept"], before);
    }

    /// <summary>
    /// wireguard-go makes /var/run/wireguard for its UAPI socket and removes only the socket: on a fresh machine the
    /// directory is what a run leaves, and a later run would find it ready (the fresh-clone failure of a rig test that
    /// assumed it). tidy removes it when this run made it and it is empty, keeps one that was there before, and leaves
    /// one with a socket in it for compare to name. Same fresh /run as above (/var/run is a link to /run).
    /// </summary>
    [RigFact]
    public void Tidy_removes_the_wireguard_socket_directory_only_when_this_run_made_it_and_it_is_empty()
    {
        var made = InFreshRun("""
            scripts/leak-check.sh snapshot before.txt
            mkdir /var/run/wireguard
            scripts/leak-check.sh tidy before.txt
            [ -d /var/run/wireguard ] || echo gone
            LEAK_CHECK_GRACE=0 scripts/leak-check.sh compare before.txt | grep -c '^LEAKED: dir /var/run/wireguard$' || true
            """);
        Assert.Equal(["leak-check: /var/run/wireguard removed (this run's first wireguard-go had made it)", "gone", "0"], made);

        var holding = InFreshRun("""
            scripts/leak-check.sh snapshot before.txt
            mkdir /var/run/wireguard; touch /var/run/wireguard/ppnt-tidy.sock
            scripts/leak-check.sh tidy before.txt
            LEAK_CHECK_GRACE=0 scripts/leak-check.sh compare before.txt | grep -e '^LEAKED: dir /var/run/wireguard$' -e '^LEAKED: socket /var/run/wireguard/ppnt-tidy.sock$' || true
            """);
        Assert.Equal(["leak-check: /var/run/wireguard left: sockets are still in it",
            "LEAKED: dir /var/run/wireguard", "LEAKED: socket /var/run/wireguard/ppnt-tidy.sock"], holding);

        var before = InFreshRun("""
            mkdir /var/run/wireguard
            scripts/leak-check.sh snapshot before.txt
            scripts/leak-check.sh tidy before.txt
            [ -d /var/run/wireguard ] && echo kept
            """);
        Assert.Equal(["kept"], before);
    }

    /// <summary>Runs <paramref name="script"/> from the repository root in a new private mount namespace with an empty tmpfs on /run; its stdout lines.</summary>
    private static string[] InFreshRun(string script)
    {
        var work = Directory.CreateTempSubdirectory("leakcheck-").FullName;
        try
        {
            // The copied mount table still lists a /run/netns that other tests' namespaces keep mounted on the host,
            // also when shadowed by a new /run: detach it (and its namespace files) here first, in this copy only.
            var body = $"set -e\nwhile mountpoint -q /run/netns; do umount -l /run/netns; done\nmount -t tmpfs ppnt-run /run\ncd '{RigEnvironment.RepoRoot}'\n" +
                script.Replace("before.txt", Path.Combine(work, "before.txt"));
            var result = HostCommand.Run("unshare", ["--mount", "--propagation", "private", "bash", "-c", body]);
            return result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
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
