using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ppn.Appliance.Commands;

namespace Ppn.Appliance.Cli;

/// <summary>
/// `ppn status`: what the running node (PID 1) publishes in /run/ppn/status.json: its enrolment, the command
/// listener's counters per verdict and the bounded journal of accepted and rejected commands.
/// </summary>
public static class StatusCommand
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
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(bytes);
            }
            catch (JsonException e)
            {
                throw new CliError(ExitCodes.Integrity, $"{path} is not a status file (not JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})", e);
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Number || schema.GetInt32() != NodeStatusFile.Schema)
                {
                    throw new CliError(ExitCodes.Integrity, $"{path} is not a status file of schema {NodeStatusFile.Schema} (a ppn of another release wrote it?)");
                }
                if (output.Json)
                {
                    output.WriteJson(root.WriteTo);
                }
                else
                {
                    Render(root, output, Math.Max(0, parse.GetValue(limit)));
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Render(JsonElement root, Output output, int limit)
    {
        if (root.TryGetProperty("enrolment", out var e))
        {
            output.Line($"node:      {Text(e, "nodeId")} at {Text(e, "address")}, hub {Text(e, "hub")}");
        }
        if (root.TryGetProperty("commands", out var c))
        {
            output.Line($"commands:  listening on {Text(c, "listening")}, epoch {Text(c, "epoch")}, replay state at boot: {Text(c, "replayStateAtBoot")}");
            output.Line($"replay:    floor at boot {Text(c, "bootFloor")}, reserved through {Text(c, "reservedThrough")}, highest accepted {Text(c, "highestAccepted")}");
            if (c.TryGetProperty("verdicts", out var v) && v.ValueKind == JsonValueKind.Object)
            {
                var counts = v.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number && p.Value.GetInt64() != 0)
                    .Select(p => $"{p.Name} {p.Value.GetInt64()}").ToList();
                output.Line($"verdicts:  {Text(c, "datagrams")} datagram(s){(counts.Count > 0 ? ": " + string.Join(", ", counts) : "")}");
            }
            if (c.TryGetProperty("kernelDrops", out var drops) && drops.ValueKind == JsonValueKind.Number)
            {
                bool prefilter = c.TryGetProperty("kernelPrefilter", out var p) && p.ValueKind == JsonValueKind.True;
                output.Line($"kernel:    {drops.GetInt64()} datagram(s) dropped before verify ({(prefilter ? "prefilter refusals of wrong length, version or target, and " : "")}receive-queue overflows), {Text(c, "receivers")} receiver(s)");
            }
        }
        if (root.TryGetProperty("journal", out var j))
        {
            Entries(output, j, "accepted", limit);
            Entries(output, j, "rejected", limit);
        }
    }

    private static void Entries(Output output, JsonElement journal, string name, int limit)
    {
        output.Line();
        output.Line($"{name} ({Text(journal, name + "Total")} in all, newest first):");
        if (!journal.TryGetProperty(name, out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            output.Line("  none");
            return;
        }
        foreach (var entry in list.EnumerateArray().Take(limit))
        {
            var ago = entry.TryGetProperty("agoMs", out var ms) && ms.TryGetInt64(out var n) ? Ago(n) : "?";
            var what = name == "accepted" ? $" -> {Text(entry, "outcome")}" : $" [{Text(entry, "verdict")}]";
            if (entry.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String) what += $" ({reason.GetString()})";
            output.Line($"  {ago,8} ago  {Text(entry, "intent")}({Text(entry, "argument")}) for {Text(entry, "target")}, epoch {Text(entry, "epoch")} counter {Text(entry, "counter")} from {Text(entry, "source")}{what}");
        }
    }

    private static string Ago(long ms) => ms switch
    {
        < 1_000 => $"{ms} ms",
        < 120_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000} s"),
        < 7_200_000 => string.Create(CultureInfo.InvariantCulture, $"{ms / 60_000} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000} h"),
    };

    private static string Text(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()
            : "?";
}
