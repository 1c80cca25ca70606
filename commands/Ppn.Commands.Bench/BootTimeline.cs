using System.Globalization;
using System.Text.RegularExpressions;

namespace Ppn.Commands.Bench;

/// <summary>
/// The boot of an emulated node, read from a console log the rig wrote (out/rig/RUN/NODE.console.log): every line
/// there carries the time since the emulator started (`2026-…Z +00012.345 text`). Splits the first boot into
/// firmware (to the EFI stub), kernel (to `Run /init`), PID 1's steps (`ppn: AREA: …` lines, each until the next
/// area), and the network waits: link up (the first `init: link NAME up` line, a NIC's link brought up as soon as its
/// driver loaded; in consoles from before that line, `init: early boot done`), the link ready (the kernel has the
/// carrier and starts IPv6 on it: its `ADDRCONF(NETDEV_CHANGE): NAME: link becomes ready` line, or link up itself when
/// the link was ready then and the kernel printed nothing), and `genesis: holding on`. The holding goal is the last
/// span, from the link ready: it holds duplicate address detection and everything PID 1 does once the link can carry
/// traffic; the wait for the carrier before it is the link's (autonegotiation on hardware) and the kernel's, printed
/// on its own line beside it.
/// </summary>
internal static partial class BootTimeline
{
    /// <summary>Goal of issue 17: link-up (the link ready to carry traffic) to holding, DAD still running.</summary>
    public const double LinkUpToHoldingGoalSeconds = 0.75;

    [GeneratedRegex(@"^\S+ \+(?<t>\d+\.\d+) (?<text>.*)$")]
    private static partial Regex Stamped();

    [GeneratedRegex(@"^ppn: (?<area>[a-z0-9-]+): (?<what>.*)$")]
    private static partial Regex PpnLine();

    /// <summary>A NIC's link brought up (InitSequence); lo is not a NIC.</summary>
    [GeneratedRegex(@"^ppn: init: link (?!lo )(?<name>\S+) up( |$)")]
    private static partial Regex LinkUpLine();

    /// <summary>addrconf.c on NETDEV_CHANGE of a link that is up: linkwatch has run its carrier event.</summary>
    [GeneratedRegex(@"ADDRCONF\(NETDEV_CHANGE\): (?<name>\S+): link becomes ready")]
    private static partial Regex LinkReadyLine();

    public sealed record Line(double Seconds, string Text);

    public static List<Line> Read(string path)
    {
        var lines = new List<Line>();
        int boots = 0;
        foreach (var raw in File.ReadLines(path))
        {
            if (raw.Contains("---- node ", StringComparison.Ordinal) && raw.Contains(" boot ", StringComparison.Ordinal))
            {
                if (++boots > 1) break; // the first boot only
                continue;
            }
            var m = Stamped().Match(raw);
            if (m.Success) lines.Add(new Line(double.Parse(m.Groups["t"].Value, CultureInfo.InvariantCulture), m.Groups["text"].Value));
        }
        return lines;
    }

    /// <summary>A PID 1 step: its area, its first line, when it started.</summary>
    public sealed record Step(string Area, string First, double Start);

    /// <summary>What one boot's console says (times since the emulator started); the spans are the report's figures.</summary>
    public sealed record Figures(Line Stub, Line Init, IReadOnlyList<Step> Steps, Line? LinkUp, string LinkUpWhat, Line? EarlyBootDone,
        Line? KernelReady, Line? Usable, Line? Genesis, Line? Enrolled, Line? Listening, Line? Holding)
    {
        /// <summary>When the link could carry traffic: the kernel's line, or link up itself when the kernel printed none.</summary>
        public Line? Ready => KernelReady ?? LinkUp;
        /// <summary>Link up to link ready: the link's and the kernel's part, not PID 1's.</summary>
        public double? CarrierWait => LinkUp is null || Ready is null ? null : Ready.Seconds - LinkUp.Seconds;
        /// <summary>The goal's figure: link ready to holding, DAD still running.</summary>
        public double? ReadyToHolding => Ready is null || Holding is null ? null : Holding.Seconds - Ready.Seconds;
        public double? InitToHolding => Holding is null ? null : Holding.Seconds - Init.Seconds;
    }

    /// <summary>The figures of one boot, or a <see cref="BenchError"/> naming <paramref name="path"/> when the lines are not a node boot's console.</summary>
    public static Figures Analyse(IReadOnlyList<Line> lines, string path)
    {
        Line? Find(Func<string, bool> match, double after = -1) => lines.FirstOrDefault(l => l.Seconds >= after && match(l.Text));
        var stub = Find(t => t.StartsWith("EFI stub", StringComparison.Ordinal)) ?? Find(t => t.StartsWith("[    0.000000]", StringComparison.Ordinal));
        var init = Find(t => t.Contains("Run /init as init process", StringComparison.Ordinal));
        if (stub is null || init is null)
        {
            throw new BenchError($"{path}: no kernel start or no `Run /init` line: not the console of a node boot");
        }
        // One row per PID 1 line, each lasting until the next; a run of self-test lines is one row.
        var steps = new List<Step>();
        foreach (var l in lines.Where(l => l.Seconds >= init.Seconds))
        {
            var m = PpnLine().Match(l.Text);
            if (!m.Success) continue;
            var area = m.Groups["area"].Value;
            if (steps.Count > 0 && area == "selftest" && steps[^1].Area == area) continue;
            steps.Add(new Step(area, m.Groups["what"].Value, l.Seconds));
        }
        var earlyBootDone = Find(t => t.StartsWith("ppn: init: early boot done", StringComparison.Ordinal), init.Seconds);
        var linkLine = Find(t => LinkUpLine().IsMatch(t), init.Seconds);
        var linkUp = linkLine ?? earlyBootDone;
        // The kernel's own line when linkwatch has run the carrier event and IPv6 starts on the link (addrconf.c),
        // for the link that came up first; absent when the link was ready at IFF_UP (addrconf prints nothing then).
        string? linkName = linkLine is null ? null : LinkUpLine().Match(linkLine.Text).Groups["name"].Value;
        var kernelReady = linkUp is null ? null
            : Find(t => LinkReadyLine().Match(t) is { Success: true } m && (linkName is null || m.Groups["name"].Value == linkName), linkUp.Seconds);
        return new Figures(stub, init, steps, linkUp, linkLine is not null ? "init: link NAME up" : "init: early boot done", earlyBootDone, kernelReady,
            Find(t => t.StartsWith("ppn: genesis: link-local address(es) usable", StringComparison.Ordinal), init.Seconds),
            Find(t => t.StartsWith("ppn: genesis: starting", StringComparison.Ordinal), init.Seconds),
            Find(t => t.StartsWith("ppn: genesis: enrolled", StringComparison.Ordinal), init.Seconds),
            Find(t => t.StartsWith("ppn: commands: listening on", StringComparison.Ordinal), init.Seconds),
            Find(t => t.StartsWith("ppn: genesis: holding on", StringComparison.Ordinal), init.Seconds));
    }

    public static void Write(string path, Report report)
    {
        report.Section($"boot timeline: {path} (first boot; times since the emulator started)");
        if (!File.Exists(path)) throw new BenchError($"boot console {path} does not exist (run a scenario first, e.g. make hil, or pass another --boot-console)");
        var f = Analyse(Read(path), path);
        global::Report.Line($"{"firmware (emulator start to EFI stub)",-52} {f.Stub.Seconds,8:F3} s");
        global::Report.Line($"{"kernel (EFI stub to Run /init)",-52} {f.Init.Seconds - f.Stub.Seconds,8:F3} s");
        var steps = f.Steps;
        global::Report.Line($"{"PID 1 start (Run /init to its first line)",-52} {(steps.Count > 0 ? steps[0].Start - f.Init.Seconds : 0),8:F3} s");
        for (int i = 0; i < steps.Count && i < 60; i++)
        {
            string what = steps[i].First.Length > 56 ? steps[i].First[..53] + "..." : steps[i].First;
            string took = i + 1 < steps.Count ? $"{steps[i + 1].Start - steps[i].Start,8:F3} s" : "  (last)  ";
            global::Report.Line($"  {steps[i].Area + ": " + what,-66} {took}   at {steps[i].Start:F3}");
        }
        if (f.LinkUp is not { } up)
        {
            report.Note("boot: no `init: link NAME up` or `init: early boot done` line: link-up time unknown");
            return;
        }
        void After(string what, Line? line)
        {
            if (line is not null) global::Report.Line($"{what,-52} {line.Seconds - up.Seconds,8:F3} s after link up");
        }
        global::Report.Line($"{$"network: link up ({f.LinkUpWhat}) at",-52} {up.Seconds,8:F3} s");
        if (f.EarlyBootDone is not null && f.EarlyBootDone != up) After("network: early boot done", f.EarlyBootDone);
        if (f.KernelReady is not null) After("network: kernel: link becomes ready (carrier wait)", f.KernelReady);
        else global::Report.Line($"{"network: kernel: link ready at link up",-52} {0.0,8:F3} s after link up");
        After("network: link-local address usable", f.Usable);
        After("network: genesis starts", f.Genesis);
        After("network: enrolled", f.Enrolled);
        After("network: 8090 listening", f.Listening);
        if (f.Holding is null || f.ReadyToHolding is not { } seconds)
        {
            report.Note("boot: the node did not hold in its first boot (enrolled or a beacon was heard): no link-up-to-holding figure");
            return;
        }
        global::Report.Line($"{"network: holding on 9443",-52} {f.Holding.Seconds - up.Seconds,8:F3} s after link up, {seconds:F3} s after the link was ready");
        global::Report.Line($"{"boot: Run /init to holding on 9443",-52} {f.InitToHolding,8:F3} s");
        string readyWhat = f.KernelReady is not null ? "`link becomes ready`" : $"`{f.LinkUpWhat}` (ready then: no kernel line)";
        report.Ratio("boot link ready to holding (DAD still running) vs the 0.75 s goal (emulated, TCG: slower than hardware)", seconds / LinkUpToHoldingGoalSeconds, 1.0, atMost: true,
            $"{seconds:F3} s from {readyWhat} to `holding on`; the carrier wait before it {f.CarrierWait:F3} s, Run /init to holding {f.InitToHolding:F3} s, firmware {f.Stub.Seconds:F1} s, kernel {f.Init.Seconds - f.Stub.Seconds:F1} s");
    }
}
