using System.Text.Json;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;

namespace Ppn.Rig.Scenarios;

/// <summary>
/// What only a booted node can show: the real efivarfs under OVMF and the kernel's WireGuard module.
/// PID 1 runs the checks when the kernel command line asks (ppn.selftest=uefi, ppn.selftest=mesh) and
/// prints one console line per check; the node then goes on to genesis as usual.
/// </summary>
public class InNodeSelfTestScenario
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [QuickScenario]
    public void Real_efivarfs_and_the_kernel_wireguard_path_pass_their_checks_on_a_booted_node()
    {
        var image = NodeImage.Locate();
        using var rig = Rig.Create("in-node-selftest");
        using var node = rig.FactoryNewNode("node-a", image.ToBootSource("ppn.selftest=uefi ppn.selftest=mesh"));
        node.PowerOn();

        var uefi = node.WaitForLine(new Regex(@"^ppn: selftest: uefi: (\d+) passed, (\d+) failed"), Bound);
        var uefiCounts = new Regex(@"(\d+) passed, (\d+) failed").Match(uefi.Text);
        Assert.True(uefiCounts.Groups[2].Value == "0",
            $"efivarfs checks failed on the node:\n{string.Join('\n', node.Console.Snapshot().Where(l => l.Text.Contains("FAIL", StringComparison.Ordinal)).Select(l => l.Text))}");
        Assert.True(int.Parse(uefiCounts.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 15);

        var mesh = node.WaitForLine(new Regex(@"^ppn: selftest: mesh: (\d+) passed, (\d+) failed"), Bound);
        var checks = node.Console.Snapshot()
            .Select(l => l.Text)
            .Where(t => t.StartsWith("ppn: selftest: mesh: {", StringComparison.Ordinal))
            .Select(t => JsonDocument.Parse(t["ppn: selftest: mesh: ".Length..]).RootElement)
            .ToList();
        Assert.True(checks.All(c => c.GetProperty("passed").GetBoolean()),
            "kernel WireGuard checks failed:\n" + string.Join('\n', checks.Where(c => !c.GetProperty("passed").GetBoolean()).Select(c => c.ToString())));
        Assert.Contains(checks, c => c.GetProperty("check").GetString()!.StartsWith("read-back", StringComparison.Ordinal)
            && c.GetProperty("backend").GetString() == "kernel" && c.GetProperty("peers").GetInt32() == 42);
        Assert.Equal(6, checks.Count);
        Assert.EndsWith("6 passed, 0 failed", mesh.Text);

        // The node still comes up after its checks.
        Assert.Equal(32, Convert.FromBase64String(node.AwaitGenesisKey()).Length);
        node.PowerOff();
    }
}
