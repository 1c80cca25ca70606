using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Running;

/// <summary>Every scenario the runner knows; the xunit scenarios and `ppn-rig run` pick from here by name.</summary>
public static class ScenarioCatalog
{
    private const NodeAbilities Boot = NodeAbilities.BootControl;

    public static IReadOnlyList<Scenario> All { get; } =
    [
        new("self-genesis-first-boot", ScenarioSet.Quick,
            "a factory-new node self-geneses and announces its public key on TCP 9443", SelfGenesis.FirstBoot),
        new("self-genesis-power-cut", ScenarioSet.Quick,
            "the identity survives a power cut because it lives in the node's NVRAM", SelfGenesis.SurvivesPowerCut),
        new("self-genesis-two-nodes", ScenarioSet.Full,
            "the same NVRAM keeps the identity; a factory-new node gets another", SelfGenesis.TwoNodes) { Machines = 2 },
        new("self-genesis-reset-button", ScenarioSet.Full,
            "the identity survives the reset button (QMP system_reset)", SelfGenesis.ResetButton) { Needs = NodeAbilities.ResetButton },
        new("power-cuts-during-genesis", ScenarioSet.Quick,
            "power cut at seeded moments of self-genesis (6 cuts quick, 50 full): every next boot ends with exactly one valid identity, never a replaced one",
            PowerCutsDuringGenesis.Run) { Needs = NodeAbilities.FactoryReset, Machines = 2 },
        new("diode-never-sends-to-8090", ScenarioSet.Quick,
            "a capture of a whole boot-to-holding run on the rig's link shows the node never sent a packet to UDP 8090",
            DiodeCapture.Run),
        new("replay-after-reboot", ScenarioSet.Full,
            "join by beacon, a command through ppn0, a power cut: identity and enrolment restored, the captured command rejected as a replay, the next batch executed",
            EnrolmentScenarios.ReplayAfterReboot) { Needs = Boot },
        new("enrolled-node", ScenarioSet.Quick,
            "join by beacon, a command through ppn0, its replay rejected after a reboot, beacon-rescan and genesis-reset; the diode on the link and in the tunnel",
            EnrolmentScenarios.EnrolledNode) { Needs = Boot | NodeAbilities.NvramFile | NodeAbilities.SeesExit },
        new("rogue-authority", ScenarioSet.Quick,
            "rogue beacons ignored, a rogue claim refused, the pinned authority's claim enrols the node",
            EnrolmentScenarios.RogueAuthority) { Needs = Boot },
        new("hostile-lan-claim", ScenarioSet.Full,
            "a holding node under an idle flood, slowloris, churn, hello lockout and garbage on 9443: the genuine claim completes, the enrolled banner answers; banner latency under attack as a figure",
            EnrolmentScenarios.HostileLanClaim) { Needs = Boot },
        new("three-node-mesh", ScenarioSet.Full,
            "hub VM (relay role) + two spokes on one emulated LAN: spoke-to-spoke ping through the hub, a command through the mesh, a cut and healed link",
            EnrolmentScenarios.ThreeNodeMesh) { Needs = Boot | NodeAbilities.Lan, Machines = 3 },
        new("fleet-telemetry", ScenarioSet.Full,
            "a real Prometheus in the hub's namespace scrapes an enrolled node's /metrics through the tunnel; the accept and replay counters move as the commands sent",
            TelemetryScenarios.FleetTelemetry) { Needs = Boot },
        new("disk-boot", ScenarioSet.Quick,
            "the GPT disk image boots under OVMF with no -kernel (the UKI's stub loads its initrd) to the holding pattern",
            DiskBoot.Gpt) { Needs = Boot },
        new("uki-boot", ScenarioSet.Full,
            "the unified kernel image alone on a FAT disk boots to the holding pattern", DiskBoot.Uki) { Needs = Boot },
        new("disk-boot-power-cut", ScenarioSet.Full,
            "a disk-booted node keeps its identity across a power cut", DiskBoot.PowerCut) { Needs = Boot },
        new("in-node-self-tests", ScenarioSet.Quick,
            "PID 1's efivarfs conformance suite on OVMF's real variable store and the kernel WireGuard path (42 peers) pass on a booted node",
            InNodeSelfTests.Run) { Needs = Boot },
        new("nic-self-test", ScenarioSet.Quick,
            "the e1000e driver takes and reports back what our ethtool code sets (rings, rx-usecs, pause; EEE unsupported), and the node still comes up",
            NicSelfTest.Run) { Needs = Boot | NodeAbilities.NicChoice },
        new("reproducible-image", ScenarioSet.Full,
            "two clean clones of one commit at different paths build bit-identical out/image/ (two full image builds; no node)",
            ReproducibleImage.Run) { HostOnly = true },
    ];
}

/// <summary>
/// A factory-new node with no beacon in reach self-geneses: an X25519 keypair kept in a UEFI variable, announced
/// as <c>PPN-GENESIS/1 &lt;public key&gt;</c> on TCP 9443 of its link-local address. The identity is the node's
/// NVRAM: the same NVRAM after a power cut gives the same key, a factory-new NVRAM another.
/// </summary>
internal static class SelfGenesis
{
    private static readonly Regex PpnLine = new("^ppn:");

    public static void FirstBoot(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("self-genesis-first-boot");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource());
        node.PowerOn();
        var key = node.AwaitGenesisKey();
        ctx.Log($"node-a holds as {key}");
        FailureClassifier.Require(node.State == NodeState.Holding, $"node-a is {node.State} after its banner, not Holding");
        FailureClassifier.Require(Convert.FromBase64String(key).Length == 32, "the banner's key is not 32 bytes");
        FailureClassifier.Require(node.Console.TryWaitForLine(PpnLine, TimeSpan.Zero) is not null, "no ppn: line on the console");
        FailureClassifier.Require(node.PowerOff() != PowerOffOutcome.Killed, "the power cut needed SIGKILL");
    }

    public static void SurvivesPowerCut(ScenarioContext ctx) =>
        IdentitySurvivesPowerCut(ctx, "self-genesis-power-cut", ctx.Image.ToBootSource(), "a power cut");

    /// <summary>Boots a factory-new node, cuts its power, boots it again: the same key both times (it lives in NVRAM).</summary>
    public static void IdentitySurvivesPowerCut(ScenarioContext ctx, string rigName, BootSource source, string what)
    {
        var rig = ctx.CreateRig(rigName);
        var node = ctx.FactoryNewNode(rig, "node-a", source);
        node.PowerOn();
        var first = node.AwaitGenesisKey();
        node.PowerOff();
        node.PowerOn();
        var second = node.AwaitGenesisKey();
        node.PowerOff();
        FailureClassifier.Require(first == second, $"identity replaced across {what}: {first} then {second}");
    }

    public static void TwoNodes(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("self-genesis-full");
        var a = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource());
        var b = ctx.FactoryNewNode(rig, "node-b", ctx.Image.ToBootSource());
        a.PowerOn();
        var boot1 = a.AwaitGenesisKey();
        a.PowerOff();
        a.PowerOn();
        var boot2 = a.AwaitGenesisKey();
        a.PowerOff();
        b.PowerOn();
        var boot3 = b.AwaitGenesisKey();
        b.PowerOff();
        FailureClassifier.Require(boot1 == boot2, $"node-a's identity changed: {boot1} then {boot2}");
        FailureClassifier.Require(boot1 != boot3, "a factory-new node got node-a's identity");
    }

    public static void ResetButton(ScenarioContext ctx)
    {
        var rig = ctx.CreateRig("self-genesis-reset");
        var node = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource());
        node.PowerOn();
        var before = node.AwaitGenesisKey();
        int linesBeforeReset = node.Console.Count;
        node.Reset();
        FailureClassifier.Require(node.State == NodeState.Booting, $"after reset the node is {node.State}, not Booting");
        // The second boot's own announcement first, so the banner read is the rebooted node's.
        node.WaitForLine(PpnLine, QemuNode.DefaultHoldingTimeout, linesBeforeReset);
        var after = node.AwaitGenesisKey();
        node.PowerOff();
        FailureClassifier.Require(before == after, $"identity replaced by the reset button: {before} then {after}");
    }
}
