using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ppn.Appliance.Commands;

namespace Ppn.Appliance.Cli;

/// <summary>
/// `ppn status`: what the running node (PID 1) publishes in /run/ppn/status.json: its enrolment, the command
/// listener's counters per verdict and the bounded journal of accepted and rejected commands.
/// </summary>
public static class StatusVerb
{
    /// <summary>status.json holds counters and a bounded journal: a few KiB.</summary>
    private const long MaxStatusBytes = 16 * 1024 * 1024;

    public static Command Build()
    {
        var file = new Option<string?>("--file") { Description = $"Read this status file instead of {NodeStatusFile.DefaultPath} (e.g. one copied off a node)" };
        var limit = new Option<int>("--limit") { Description = "Journal entries shown per list (default 10)", DefaultValueFactory = _ => 10 };
        var command = new Command("status", "The running node's enrolment, command listener and command journal") { file, limit };
        Verb.Run(command, (parse, output) =>
        {
            var path = parse.GetValue(file) ?? NodeStatusFile.PathFromEnvironment();
            var node = Ppn.Linux.FileNode.Stat(path);
            if (node.Kind is not (Ppn.Linux.FileNodeKind.Regular or Ppn.Linux.FileNodeKind.Missing) || node.Size > MaxStatusBytes)
            {
                throw new CliError(ExitCodes.BadInput, $"{path} is {(node.Kind == Ppn.Linux.FileNodeKind.Regular ? $"{node.Size} bytes" : Ppn.Linux.FileNode.Describe(node.Kind))}: not a status file");
            }
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new CliError(ExitCodes.NotFound,
                    $"no status at {path}: the node's command service is not running (not enrolled yet, or not on a node); `ppn identity show` and the console log say more");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliError(ExitCodes.PermissionDenied, $"cannot read {Ppn.Linux.FileErrors.Describe(e, path)} (run as root)", e);
            }
            if (!NodeStatusFile.TryParse(bytes, out var status, out var error))
            {
                throw new CliError(ExitCodes.Integrity, $"{path} is {error}");
            }
            if (output.Json)
            {
                output.Out.Write(System.Text.Encoding.UTF8.GetString(NodeStatusFile.ToJson(status!)));
            }
            else
            {
                Render(status!, output, Math.Max(0, parse.GetValue(limit)));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Render(NodeStatus status, Output output, int limit)
    {
        var e = status.Enrolment;
        output.Line($"node:      {e.NodeId} at {e.Address}, hub {e.Hub}");
        var c = status.Commands;
        output.Line($"commands:  listening on {c.Listening}, epoch {c.Epoch}, replay state at boot: {c.ReplayStateAtBoot}");
        output.Line($"replay:    floor at boot {c.BootFloor}, reserved through {c.ReservedThrough}, highest accepted {c.HighestAccepted}");
        var counts = c.Verdicts.Where(v => v.Value != 0).Select(v => $"{v.Key} {v.Value}").ToList();
        output.Line($"verdicts:  {c.Datagrams} datagram(s){(counts.Count > 0 ? ": " + string.Join(", ", counts) : "")}");
        output.Line($"kernel:    {c.KernelDrops} datagram(s) dropped before verify ({(c.KernelPrefilter ? "prefilter refusals of wrong length, version or target, and " : "")}receive-queue overflows), {c.Receivers} receiver(s)");
        if (status.Sync is { } sync) output.Line($"sync:      {MeshVerb.SyncLine(sync)}");
        Entries(output, "accepted", status.Journal.AcceptedTotal, status.Journal.Accepted, limit);
        Entries(output, "rejected", status.Journal.RejectedTotal, status.Journal.Rejected, limit);
    }

    private static void Entries(Output output, string name, long total, IReadOnlyList<StatusJournalEntry> entries, int limit)
    {
        output.Line();
        output.Line($"{name} ({total} in all, newest first):");
        if (entries.Count == 0)
        {
            output.Line("  none");
            return;
        }
        foreach (var entry in entries.Take(limit))
        {
            var what = name == "accepted" ? $" -> {entry.Outcome ?? "?"}" : $" [{entry.Verdict}]";
            if (entry.Reason is { } reason) what += $" ({reason})";
            output.Line($"  {Ago(entry.AgoMs),8} ago  {entry.Intent}({entry.Argument}) for {entry.Target}, epoch {entry.Epoch} counter {entry.Counter} from {entry.Source}{what}");
        }
    }

    private static string Ago(long ms) => ms switch
    {
        < 1_000 => $"{ms} ms",
        < 120_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000} s"),
        < 7_200_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 60_000} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000} h"),
    };
}
