using System.Globalization;
using System.Text.RegularExpressions;
using Ppn.Rig.Emulation;
using Ppn.Rig.Model;

namespace Ppn.Rig.Running;

/// <summary>
/// Power cuts at many moments of self-genesis, from a seeded schedule of three kinds, in turn:
/// <list type="number">
/// <item>on node-a (one NVRAM for the whole run), a time after power-on: firmware (OVMF writes its own
/// variables), kernel, PID 1's start;</item>
/// <item>on node-a, a time after PID 1's first console line: modules, efivarfs, the identity restored, the
/// holding listener;</item>
/// <item>on node-b, made factory-new again before each such cut, a time after "genesis: starting": the
/// identity being made, written, read back and shown (about 50 ms on TCG: "identity created" follows "genesis: starting" by 40-60 ms), so creation itself is cut.</item>
/// </list>
/// After every cut the node boots again uncut, and that boot must end with exactly one valid identity: one
/// "identity created|restored" line, no "no usable identity", a holding banner with the same key — and once
/// a boot of that machine has shown a key, every later boot shows that key, restored, never a new one.
/// Timing: PID 1 starts about 12 s after power-on under TCG, makes the identity about 0.5 s later and
/// holds about 3 s after its start.
/// </summary>
public static partial class PowerCutsDuringGenesis
{
    public const int QuickCuts = 6;
    public const int FullCuts = 50;

    /// <summary>Cuts measured from power-on fall in [0.3 s, this); from PID 1's first line in [0, <see cref="AfterInitWindow"/>);
    /// from "genesis: starting" in [0, <see cref="AfterGenesisStartWindow"/>).</summary>
    public static readonly TimeSpan AfterPowerOnWindow = TimeSpan.FromSeconds(12);
    public static readonly TimeSpan AfterInitWindow = TimeSpan.FromSeconds(3.5);
    public static readonly TimeSpan AfterGenesisStartWindow = TimeSpan.FromMilliseconds(80);

    [GeneratedRegex(@"^ppn: genesis: identity (created|restored): ([A-Za-z0-9+/]{43}=)")]
    private static partial Regex IdentityLine();

    [GeneratedRegex(@"^ppn: genesis: no usable identity")]
    private static partial Regex NoIdentityLine();

    [GeneratedRegex(@"^ppn: ")]
    private static partial Regex FirstPpnLine();

    [GeneratedRegex(@"^ppn: genesis: starting")]
    private static partial Regex GenesisStarting();

    public enum Anchor
    {
        /// <summary>node-a, from power-on.</summary>
        PowerOn,
        /// <summary>node-a, from PID 1's first console line.</summary>
        FirstPpnLine,
        /// <summary>node-b made factory-new, from "genesis: starting" (identity creation).</summary>
        GenesisStartOnFactoryNew,
    }

    public sealed record Cut(int Number, Anchor From, TimeSpan Offset)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"cut {Number}: {Offset.TotalSeconds:0.000} s after {From switch
            {
                Anchor.PowerOn => "power-on of node-a",
                Anchor.FirstPpnLine => "PID 1's first line on node-a",
                _ => "'genesis: starting' on factory-new node-b",
            }}");
    }

    /// <summary>The seeded schedule: the same seed gives the same cuts (the report names the seed).</summary>
    public static IReadOnlyList<Cut> Schedule(int seed, int count)
    {
        var random = new Random(seed);
        var cuts = new List<Cut>(count);
        for (int i = 0; i < count; i++)
        {
            var anchor = (Anchor)(i % 3);
            double seconds = anchor switch
            {
                Anchor.PowerOn => 0.3 + random.NextDouble() * (AfterPowerOnWindow.TotalSeconds - 0.3),
                Anchor.FirstPpnLine => random.NextDouble() * AfterInitWindow.TotalSeconds,
                _ => random.NextDouble() * AfterGenesisStartWindow.TotalSeconds,
            };
            cuts.Add(new Cut(i + 1, anchor, TimeSpan.FromMilliseconds(Math.Round(seconds * 1000))));
        }
        return cuts;
    }

    /// <summary>What one boot's console says about the identity, checked against what earlier boots showed.</summary>
    public sealed record IdentityVerdict(string? Key, string? Origin, int IdentityLines, bool NoUsableIdentity);

    public static IdentityVerdict Read(IEnumerable<ConsoleLine> console)
    {
        string? key = null, origin = null;
        int lines = 0;
        bool none = false;
        foreach (var line in console)
        {
            if (IdentityLine().Match(line.Text) is { Success: true } m)
            {
                lines++;
                key ??= m.Groups[2].Value;
                origin ??= m.Groups[1].Value;
            }
            none |= NoIdentityLine().IsMatch(line.Text);
        }
        return new IdentityVerdict(key, origin, lines, none);
    }

    /// <summary>
    /// The rule for an uncut boot: exactly one valid identity, its banner key equal to it, and equal to
    /// <paramref name="shownBefore"/> (restored, not created) when an earlier boot showed one.
    /// </summary>
    public static void Check(IdentityVerdict boot, string bannerKey, string? shownBefore, string what)
    {
        FailureClassifier.Require(!boot.NoUsableIdentity, $"{what}: the node said it has no usable identity (corrupt or unwritable storage)");
        FailureClassifier.Require(boot.IdentityLines == 1, $"{what}: {boot.IdentityLines} identity lines on one boot, expected exactly one");
        FailureClassifier.Require(boot.Key == bannerKey, $"{what}: the console showed {boot.Key} but the holding banner {bannerKey}");
        if (shownBefore is not null)
        {
            FailureClassifier.Require(bannerKey == shownBefore,
                $"{what}: identity silently replaced: {shownBefore} was shown before, now {bannerKey} ({boot.Origin})");
            FailureClassifier.Require(boot.Origin == "restored",
                $"{what}: the identity {bannerKey} was shown before but this boot says '{boot.Origin}', not 'restored'");
        }
    }

    public static void Run(ScenarioContext ctx)
    {
        int count = ctx.Options.Cuts ?? (ctx.Options.Full ? FullCuts : QuickCuts);
        var schedule = Schedule(ctx.Options.Seed, count);
        var rig = ctx.CreateRig("power-cuts-during-genesis");
        var nodeA = ctx.FactoryNewNode(rig, "node-a", ctx.Image.ToBootSource());
        var nodeB = ctx.FactoryNewNode(rig, "node-b", ctx.Image.ToBootSource());
        string? shownA = null;
        int beforeIdentity = 0, afterIdentity = 0;

        foreach (var cut in schedule)
        {
            var node = cut.From == Anchor.GenesisStartOnFactoryNew ? nodeB : nodeA;
            string? shown = node == nodeA ? shownA : null;
            if (node == nodeB)
            {
                nodeB.FactoryReset(); // another factory-new machine each time
            }
            node.PowerOn();
            var at = cut.Offset + cut.From switch
            {
                Anchor.FirstPpnLine => node.WaitForLine(FirstPpnLine(), QemuNode.DefaultHoldingTimeout).SincePowerOn,
                Anchor.GenesisStartOnFactoryNew => node.WaitForLine(GenesisStarting(), QemuNode.DefaultHoldingTimeout).SincePowerOn,
                _ => TimeSpan.Zero,
            };
            bool cutWhileRunning = node.HardCutAt(at);
            FailureClassifier.Require(cutWhileRunning,
                $"{cut}: the node had stopped by itself (emulator exit code {node.ExitCode}: a panic or reboot under -no-reboot) before the cut");
            var cutBoot = Read(node.Console.Snapshot());
            // A key printed before the cut was stored and read back first (genesis shows it only then): it is shown.
            if (cutBoot.Key is { } printed)
            {
                FailureClassifier.Require(shown is null || printed == shown, $"{cut}: the cut boot showed {printed} after {shown} had been shown");
                shown ??= printed;
                afterIdentity++;
            }
            else
            {
                beforeIdentity++;
            }
            ctx.Log($"{cut} (at +{at.TotalSeconds:0.000} s): {node.Console.Count} console lines; identity before the cut: " +
                    (cutBoot.Key is null ? "none shown" : $"{cutBoot.Origin} {cutBoot.Key}"));

            node.PowerOn();
            var banner = node.AwaitGenesisKey();
            node.WaitForLine(IdentityLine(), TimeSpan.FromSeconds(30));
            var boot = Read(node.Console.Snapshot());
            Check(boot, banner, shown, $"{node.Name}'s boot after {cut}");
            shown ??= banner;
            if (node == nodeA)
            {
                shownA = shown;
            }
            ctx.Log($"  {node.Name} next boot: exactly one identity, {boot.Origin}: {banner}");
            node.PowerOff();
        }
        ctx.Log($"{count} cuts: {beforeIdentity} before the identity was shown, {afterIdentity} after; node-a kept {shownA ?? "(no boot of node-a)"}");
    }
}
