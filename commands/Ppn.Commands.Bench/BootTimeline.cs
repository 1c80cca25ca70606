using System.Globalization;
using System.Text.RegularExpressions;

namespace Ppn.Commands.Bench;

/// <summary>
/// The boot of an emulated node, read from a console log the rig wrote (out/rig/RUN/NODE.console.log): every line
/// there carries the time since the emulator started (`2026-…Z +00012.345 text`). Splits the first boot into
/// firmware (to the EFI stub), kernel (to `Run /init`), PID 1's steps (`ppn: AREA: …` lines, each until the next
/// area), and the network wait that the holding goal is about: link up (the first `init: link NAME up` line, a NIC's
/// link brought up as soon as its driver loaded; in consoles from before that line, `init: early boot done`) to
/// `genesis: holding on`.
/// </summary>
internal static partial class BootTimeline
{
    /// <summary>Goal of issue 17: link-up to holding, DAD still running.</summary>
    public const double LinkUpToHoldingGoalSeconds = 0.75;

    [GeneratedRegex(@"^\S+ \+(?<t>\d+\.\d+) (?<text>.*)$")]
    private static partial Regex Stamped();

    [GeneratedRegex(@"^ppn: (?<area>[a-z0-9-]+): (?<what>.*)$")]
    private static partial Regex PpnLine();

    /// <summary>A NIC's link brought up (InitSequence); lo is not a NIC.</summary>
    [GeneratedRegex(@"^ppn: init: link (?!lo )\S+ up( |$)")]
    private static partial Regex LinkUpLine();

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

    public static void Write(string path, Report report)
    {
        report.Section($"boot timeline: {path} (first boot; times since the emulator started)");
        if (!File.Exists(path)) throw new BenchError($"boot console {path} does not exist (run a scenario first, e.g. make hil, or pass another --boot-console)");
        var lines = Read(path);
        Line? Find(Func<string, bool> match, double after = -1) => lines.FirstOrDefault(l => l.Seconds >= after && match(l.Text));
        var stub = Find(t => t.StartsWith("EFI stub", StringComparison.Ordinal)) ?? Find(t => t.StartsWith("[    0.000000]", StringComparison.Ordinal));
        var init = Find(t => t.Contains("Run /init as init process", StringComparison.Ordinal));
        if (stub is null || init is null)
        {
            throw new BenchError($"{path}: no kernel start or no `Run /init` line: not the console of a node boot");
        }
        global::Report.Line($"{"firmware (emulator start to EFI stub)",-52} {stub.Seconds,8:F3} s");
        global::Report.Line($"{"kernel (EFI stub to Run /init)",-52} {init.Seconds - stub.Seconds,8:F3} s");
        // One row per PID 1 line, each lasting until the next; a run of self-test lines is one row.
        var steps = new List<(string Area, string First, double Start)>();
        foreach (var l in lines.Where(l => l.Seconds >= init.Seconds))
        {
            var m = PpnLine().Match(l.Text);
            if (!m.Success) continue;
            var area = m.Groups["area"].Value;
            if (steps.Count > 0 && area == "selftest" && steps[^1].Area == area) continue;
            steps.Add((area, m.Groups["what"].Value, l.Seconds));
        }
        global::Report.Line($"{"PID 1 start (Run /init to its first line)",-52} {(steps.Count > 0 ? steps[0].Start - init.Seconds : 0),8:F3} s");
        for (int i = 0; i < steps.Count && i < 60; i++)
        {
            string what = steps[i].First.Length > 56 ? steps[i].First[..53] + "..." : steps[i].First;
            string took = i + 1 < steps.Count ? $"{steps[i + 1].Start - steps[i].Start,8:F3} s" : "  (last)  ";
            global::Report.Line($"  {steps[i].Area + ": " + what,-66} {took}   at {steps[i].Start:F3}");
        }
        var earlyBootDone = Find(t => t.StartsWith("ppn: init: early boot done", StringComparison.Ordinal), init.Seconds);
        var linkUp = Find(t => LinkUpLine().IsMatch(t), init.Seconds);
        var linksUp = linkUp ?? earlyBootDone;
        string linksUpLine = linkUp is not null ? "init: link NAME up" : "init: early boot done";
        var genesis = Find(t => t.StartsWith("ppn: genesis: starting", StringComparison.Ordinal), init.Seconds);
        var holding = Find(t => t.StartsWith("ppn: genesis: holding on", StringComparison.Ordinal), init.Seconds);
        var enrolled = Find(t => t.StartsWith("ppn: genesis: enrolled", StringComparison.Ordinal), init.Seconds);
        var listening = Find(t => t.StartsWith("ppn: commands: listening on", StringComparison.Ordinal), init.Seconds);
        if (linksUp is null)
        {
            report.Note("boot: no `init: link NAME up` or `init: early boot done` line: link-up time unknown");
            return;
        }
        global::Report.Line($"{$"network: link up ({linksUpLine}) at",-52} {linksUp.Seconds,8:F3} s");
        if (earlyBootDone is not null && linkUp is not null) global::Report.Line($"{"network: early boot done",-52} {earlyBootDone.Seconds - linksUp.Seconds,8:F3} s after link up");
        // The kernel's own line when linkwatch has run the carrier event and IPv6 starts on the link (addrconf.c).
        var ready = Find(t => t.Contains("ADDRCONF(NETDEV_CHANGE)", StringComparison.Ordinal) && t.Contains("link becomes ready", StringComparison.Ordinal), init.Seconds);
        if (ready is not null) global::Report.Line($"{"network: kernel: link becomes ready",-52} {ready.Seconds - linksUp.Seconds,8:F3} s after link up");
        var usable = Find(t => t.StartsWith("ppn: genesis: link-local address(es) usable", StringComparison.Ordinal), init.Seconds);
        if (usable is not null) global::Report.Line($"{"network: link-local address usable",-52} {usable.Seconds - linksUp.Seconds,8:F3} s after link up");
        if (genesis is not null) global::Report.Line($"{"network: genesis starts",-52} {genesis.Seconds - linksUp.Seconds,8:F3} s after link up");
        if (enrolled is not null) global::Report.Line($"{"network: enrolled",-52} {enrolled.Seconds - linksUp.Seconds,8:F3} s after link up");
        if (listening is not null) global::Report.Line($"{"network: 8090 listening",-52} {listening.Seconds - linksUp.Seconds,8:F3} s after link up");
        if (holding is null)
        {
            report.Note("boot: the node did not hold in its first boot (enrolled or a beacon was heard): no link-up-to-holding figure");
            return;
        }
        double seconds = holding.Seconds - linksUp.Seconds;
        global::Report.Line($"{"network: holding on 9443",-52} {seconds,8:F3} s after link up");
        global::Report.Line($"{"boot: Run /init to holding on 9443",-52} {holding.Seconds - init.Seconds,8:F3} s");
        report.Ratio("boot link-up to holding vs the 0.75 s goal (emulated, TCG: slower than hardware)", seconds / LinkUpToHoldingGoalSeconds, 1.0, atMost: true,
            $"{seconds:F3} s from `{linksUpLine}` to `holding on`, firmware {stub.Seconds:F1} s, kernel {init.Seconds - stub.Seconds:F1} s");
    }
}
