using System.Globalization;
using System.Text.RegularExpressions;
using Ppn.Formats;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;
using Ppn.Rig.Net;

namespace Ppn.Rig.Running;

/// <summary>
/// The node boots what a fleet ships, with no -kernel: OVMF finds \EFI\BOOT\BOOTX64.EFI on the GPT disk's EFI system
/// partition (or on a FAT disk holding only the UKI), the systemd stub starts the kernel with the UKI's own command
/// line and initramfs, and ppn reaches the holding pattern.
/// </summary>
internal static class DiskBoot
{
    private static readonly Regex Holding = new(@"^ppn: genesis: holding on ");
    private static readonly Regex StubLoadedInitrd = new(@"EFI stub: Loaded initrd");

    public static void Gpt(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("disk-boot");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToDiskBootSource());
        RequireNoKernelFlag(node);
        node.PowerOn();
        node.WaitForLine(StubLoadedInitrd, NodeTimeouts.Holding);
        node.WaitForLine(Holding, NodeTimeouts.Holding);
        var key = node.AwaitGenesisKey();
        ctx.Log($"node-a booted the GPT disk and holds as {key}");
        FailureClassifier.Require(Convert.FromBase64String(key).Length == 32, "the banner's key is not 32 bytes");
        FailureClassifier.Require(node.PowerOff() != PowerOffOutcome.Killed, "the power cut needed SIGKILL");
    }

    public static void Uki(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("uki-boot");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToUkiBootSource(rig.WorkDirectory));
        RequireNoKernelFlag(node);
        node.PowerOn();
        node.WaitForLine(Holding, NodeTimeouts.Holding);
        FailureClassifier.Require(Convert.FromBase64String(node.AwaitGenesisKey()).Length == 32, "the banner's key is not 32 bytes");
        node.PowerOff();
    }

    public static void PowerCut(ScenarioContext ctx) =>
        SelfGenesis.IdentitySurvivesPowerCut(ctx, "disk-boot-power-cut", ctx.Image.ToDiskBootSource(), "a power cut of a disk-booted node");

    private static void RequireNoKernelFlag(IRigNode node)
    {
        if (node is QemuNode qemu && qemu.CommandLine.Contains("-kernel", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"a disk boot must not pass -kernel: {qemu.CommandLine}");
        }
    }
}

/// <summary>
/// What only a booted node can show: the real efivarfs under OVMF and the kernel's WireGuard module. PID 1 runs the
/// checks when the kernel command line asks (ppn.selftest=uefi, ppn.selftest=mesh) and prints one console line per
/// check; the node then goes on to genesis as usual.
/// </summary>
internal static class InNodeSelfTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    public static void Run(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("in-node-selftest");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource("ppn.selftest=uefi ppn.selftest=mesh"));
        node.PowerOn();

        var uefi = node.WaitForLine(new Regex(@"^ppn: selftest: uefi: (\d+) passed, (\d+) failed"), Bound);
        var counts = new Regex(@"(\d+) passed, (\d+) failed").Match(uefi.Text);
        FailureClassifier.Require(counts.Groups[2].Value == "0",
            $"efivarfs checks failed on the node:\n{string.Join('\n', node.Console.Snapshot().Where(l => l.Text.Contains("FAIL", StringComparison.Ordinal)).Select(l => l.Text))}");
        FailureClassifier.Require(int.Parse(counts.Groups[1].Value, CultureInfo.InvariantCulture) >= 15, $"only {counts.Groups[1].Value} efivarfs checks ran: {uefi.Text}");
        ctx.Log(uefi.Text);

        var mesh = node.WaitForLine(new Regex(@"^ppn: selftest: mesh: (\d+) passed, (\d+) failed"), Bound);
        var checks = SelfTestLine.MeshChecks(node.Console.Snapshot().Select(l => l.Text));
        FailureClassifier.Require(checks.All(c => c.Passed),
            "kernel WireGuard checks failed:\n" + string.Join('\n', checks.Where(c => !c.Passed).Select(c => c.ToString())));
        FailureClassifier.Require(checks.Any(c => c.Check.StartsWith("read-back", StringComparison.Ordinal) && c.Backend == "kernel" && c.Peers == 42),
            "no read-back check of 42 peers on the kernel backend");
        FailureClassifier.Require(checks.Count == 6, $"{checks.Count} mesh checks, expected 6");
        FailureClassifier.Require(mesh.Text.EndsWith("6 passed, 0 failed", StringComparison.Ordinal), mesh.Text);
        ctx.Log(mesh.Text);

        // The node still comes up after its checks.
        FailureClassifier.Require(Convert.FromBase64String(node.AwaitGenesisKey()).Length == 32, "the banner's key is not 32 bytes");
        node.PowerOff();
    }
}

/// <summary>
/// Our ethtool ioctls against a real driver: the node boots with QEMU's e1000e (Intel 82574L) and the real e1000e
/// driver, and PID 1 runs the NIC self-test (ppn.selftest=nic): rings, rx-usecs and pause are set to other in-range
/// values, read back and restored; an over-maximum ring is refused as out of range; the tuner rolls an applied change
/// back after a refused one. e1000e on an 82574L has no EEE (no FLAG2_HAS_EEE), so that check must say
/// "unsupported", never "passed". Build hosts cannot show any of this (veth implements none of it).
/// </summary>
internal static class NicSelfTest
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    public static void Run(ScenarioContext ctx)
    {
        // loglevel=4: e1000e's "NIC Link is Up" (KERN_INFO) after each ring/pause reset must not land inside a
        // check line on the shared serial console.
        var rig = ctx.CreateRig("nic-selftest");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource("ppn.selftest=nic loglevel=4"), NicModel.E1000e);
        node.PowerOn();

        var summary = node.WaitForLine(new Regex(@"^ppn: selftest: nic: (\d+) passed, (\d+) failed, (\d+) unsupported by driver$"), Bound);
        // Each line's header says which check it is; the line is then read as that check's document.
        var checks = SelfTestLine.All(node.Console.Snapshot().Select(l => l.Text), SelfTestLine.Nic)
            .Select(l => (Line: l, Header: l.Read(SelfTestJson.Default.NicSelfTestCheck)))
            .ToList();
        (SelfTestLine Line, NicSelfTestCheck Header) Check(string startsWith)
        {
            var found = checks.Where(c => c.Header.Check.StartsWith(startsWith, StringComparison.Ordinal) && c.Header.Interface is not null).ToList();
            FailureClassifier.Require(found.Count == 1, $"{found.Count} '{startsWith}' check lines, expected exactly one");
            return found[0];
        }

        var failed = checks.Where(c => c.Header.Result == NicSelfTestResult.Failed).ToList();
        FailureClassifier.Require(failed.Count == 0, "NIC checks failed on the node:\n" + string.Join('\n', failed.Select(c => c.Line.Json)));

        // One e1000e NIC, found through sysfs and driven by e1000e; GPERMADDR is the MAC the rig gave it.
        var (readLine, readHeader) = Check("every read");
        FailureClassifier.Require(readHeader.Result == NicSelfTestResult.Passed, $"every read: {readLine.Json}");
        var read = readLine.Read(SelfTestJson.Default.NicReadCheck);
        FailureClassifier.Require(read.Driver == "e1000e", $"driver: {readLine.Json}");
        FailureClassifier.Require(read.PciId == "8086:10d3", $"PCI id: {readLine.Json}");
        FailureClassifier.Require(read.PermanentAddress == MacAddress.Format(node.Mac).ToLowerInvariant(), $"GPERMADDR is not the rig's MAC: {readLine.Json}");
        FailureClassifier.Require(read.Unsupported.Contains("eee"), $"eee not listed as unsupported: {readLine.Json}");

        var (ringsLine, ringsHeader) = Check("rings: set");
        FailureClassifier.Require(ringsHeader.Result == NicSelfTestResult.Passed, $"rings: {ringsLine.Json}");
        var rings = ringsLine.Read(SelfTestJson.Default.NicRingsCheck);
        FailureClassifier.Require(rings.Before.Rx != rings.ReadBack.Rx, $"rings did not change: {ringsLine.Json}");
        FailureClassifier.Require(Check("rings: beyond").Header.Result == NicSelfTestResult.Passed, "rings beyond the maximum");

        var (coalesceLine, coalesceHeader) = Check("coalesce rx-usecs");
        FailureClassifier.Require(coalesceHeader.Result == NicSelfTestResult.Passed, $"coalesce: {coalesceLine.Json}");
        var coalesce = coalesceLine.Read(SelfTestJson.Default.NicCoalesceCheck);
        FailureClassifier.Require(coalesce.Set == coalesce.ReadBack, $"coalesce read back: {coalesceLine.Json}");
        FailureClassifier.Require(coalesce.Before == coalesce.Restored, $"coalesce restore: {coalesceLine.Json}");

        var (pauseLine, pauseHeader) = Check("pause");
        FailureClassifier.Require(pauseHeader.Result == NicSelfTestResult.Passed, $"pause: {pauseLine.Json}");
        FailureClassifier.Require(!pauseLine.Read(SelfTestJson.Default.NicPauseCheck).ReadBack.Autoneg, $"pause autoneg: {pauseLine.Json}");

        // Honest about what the driver does not do: 82574L has no EEE, so GEEE answers EOPNOTSUPP.
        var (eeeLine, eeeHeader) = Check("eee");
        FailureClassifier.Require(eeeHeader.Result == NicSelfTestResult.Unsupported, $"eee must be unsupported on an 82574L: {eeeLine.Json}");
        FailureClassifier.Require(eeeLine.Read(SelfTestJson.Default.NicSelfTestNote).Detail?.Contains("unsupported by driver", StringComparison.Ordinal) == true, $"eee detail: {eeeLine.Json}");

        var (rollbackLine, rollbackHeader) = Check("apply rolls back");
        FailureClassifier.Require(rollbackHeader.Result == NicSelfTestResult.Passed, $"rollback: {rollbackLine.Json}");
        var rollback = rollbackLine.Read(SelfTestJson.Default.NicRollbackCheck);
        FailureClassifier.Require(rollback.Status == "rolled-back", $"rollback status: {rollbackLine.Json}");
        FailureClassifier.Require(rollback.StateAsBefore, $"rollback state: {rollbackLine.Json}");

        FailureClassifier.Require(summary.Text.EndsWith("7 passed, 0 failed, 1 unsupported by driver", StringComparison.Ordinal), summary.Text);
        ctx.Log(summary.Text);

        // The boot-time tuning saw the same NIC and, having no profile for it, left it alone.
        FailureClassifier.Require(node.Console.Snapshot().Any(l => Regex.IsMatch(l.Text, @"^ppn: nic: \S+: profile generic: nothing to change \(no tuning profile for this NIC\)$")),
            "no 'profile generic: nothing to change' line for the e1000e");

        // After all that the NIC still carries the node: the holding port answers over it.
        FailureClassifier.Require(Convert.FromBase64String(node.AwaitGenesisKey()).Length == 32, "the banner's key is not 32 bytes");
        node.PowerOff();
    }
}

/// <summary>
/// docs/image.md's guarantee: two clean clones of one commit at different paths, each running `make image`, give the
/// same sha256 for every file in out/image/ (scripts/reproducible-image.sh). Two full builds; boots no node.
/// </summary>
internal static class ReproducibleImage
{
    public static void Run(ScenarioContext ctx)
    {
        var script = Path.Combine(RigEnvironment.RepoRoot, "scripts", "reproducible-image.sh");
        var result = HostCommand.Run("bash", [script], TimeSpan.FromMinutes(40), check: false);
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(40))
        {
            ctx.Log(line);
        }
        // Exit 2: `make image` itself failed in a clone (the build is broken at that commit: a product failure too).
        FailureClassifier.Require(result.ExitCode != 2, $"make image failed in a clean clone:\n{result.StandardError.Trim()}");
        FailureClassifier.Require(!result.StandardOutput.Contains("DIFFERS", StringComparison.Ordinal),
            "two clones built different images:\n" + string.Join('\n', result.StandardOutput.Split('\n').Where(l => l.Contains("DIFFERS", StringComparison.Ordinal))));
        FailureClassifier.Require(result.ExitCode == 0 && result.StandardOutput.Contains("identical out/image/ at two paths", StringComparison.Ordinal),
            $"reproducible-image.sh exited {result.ExitCode} without saying the images are identical");
    }
}
