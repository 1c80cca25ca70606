using System.Globalization;

/// <summary>
/// "exec to listening on 9443" (docs/performance.md): ppn started as PID 1, its real boot path (InitSequence,
/// NodeServices, the genesis service) up to the holding listener bound on a link-local address, against a C
/// bind + listen on the same address. Both run under bench/listen_time.c, which gives every start namespaces of its
/// own (user, mount, network, PID) that end with it: nothing reaches the machine's modules, mounts or network.
/// </summary>
internal sealed partial class Bench
{
    private const string HoldingMarker = "holding on ["; // GenesisProtocol's log line once the listener is bound
    private const string BaselineMarker = "listening on [";

    public void ExecToListening()
    {
        _report.Section("exec to listening on 9443: ppn as PID 1 (mounts, early boot, genesis, holding listener) vs a C bind + listen; own user/mount/net/PID namespaces per start, 5 starts per turn, turns interleaved");
        if (_options.Ppn is not { } ppn || !File.Exists(ppn))
        {
            _report.Note("exec to listening: not measured — no --ppn (make bench passes out/bin/ppn)");
            return;
        }
        string timer = CompileInWork("listen_time");
        string baseline = CompileInWork("listen_9443");
        // Covers /lib/modules inside each start's mount namespace: the modules are the boot timeline's, not startup's.
        string empty = Directory.CreateDirectory(Path.Combine(_work, "no-modules")).FullName;
        List<double> c = [], ours = [];
        IEnumerable<double> Starts(string marker, string program) =>
            Run(timer, $"5 {empty} \"{marker}\" {program}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(s => double.Parse(s, CultureInfo.InvariantCulture) / 1e6);
        for (int rep = 0; rep < _options.Reps; rep++)
        {
            void C() => c.AddRange(Starts(BaselineMarker, baseline));
            void P() => ours.AddRange(Starts(HoldingMarker, Path.GetFullPath(ppn)));
            if (rep % 2 == 0) { C(); P(); } else { P(); C(); }
        }
        var sc = Stats.Of(c);
        var sp = Stats.Of(ours);
        Report.Line($"C bind + listen        {sc.Format("ms", "F2")}");
        Report.Line($"ppn to holding on 9443 {sp.Format("ms", "F2")}");
        _report.Ratio("exec to listening on 9443 vs C bind + listen", sp.Median / sc.Median, 3.0, atMost: true,
            "median time from execv to the listening line, lower is better");
    }

    private string CompileInWork(string name)
    {
        var output = Path.Combine(_work, name);
        Run("gcc", $"-O2 -Wall -o {output} {Path.Combine(_options.Repo, "bench", name + ".c")}");
        return output;
    }
}
