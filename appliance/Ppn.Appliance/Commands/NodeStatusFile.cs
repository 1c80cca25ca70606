using System.Text.Json;
using System.Text.Json.Serialization;
using Ppn.Commands;

namespace Ppn.Appliance.Commands;

/// <summary>
/// <c>/run/ppn/status.json</c>, schema 1 (docs/operations.md §Authority commands): what PID 1's command service
/// publishes and `ppn status` reads. One type for the writer and the reader, serialised by System.Text.Json source
/// generation (<see cref="NodeStatusJson"/>; no reflection in the AOT binary). <see cref="Sync"/> is the mesh sync
/// agent's status (docs/protocol/sync.md §Status), absent until the agent runs.
/// </summary>
public sealed record NodeStatus(int Schema, StatusEnrolment Enrolment, StatusCommands Commands, StatusJournal Journal,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Ppn.Mesh.Sync.SyncStatus? Sync = null);

/// <summary>The enrolment the command service runs on.</summary>
public sealed record StatusEnrolment(ulong NodeId, string Address, string Hub, uint GrantEpoch);

/// <summary>The 8090 listener, the replay state and the verdict counters.</summary>
public sealed record StatusCommands(
    string Listening,
    int Epoch,
    string ReplayStateAtBoot,
    uint BootFloor,
    uint ReservedThrough,
    uint HighestAccepted,
    long Datagrams,
    long QueueFull,
    int Receivers,
    bool KernelPrefilter,
    long KernelDrops,
    IReadOnlyDictionary<string, long> Verdicts);

/// <summary>The bounded command journal, newest first.</summary>
public sealed record StatusJournal(long AcceptedTotal, long RejectedTotal, IReadOnlyList<StatusJournalEntry> Accepted, IReadOnlyList<StatusJournalEntry> Rejected);

public sealed record StatusJournalEntry(
    long AgoMs,
    string Verdict,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Outcome,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
    string Intent,
    int Argument,
    string Target,
    uint Counter,
    int Epoch,
    string Source);

/// <summary>
/// Writes and reads <see cref="NodeStatus"/>: whole to a temp file and renamed, so a reader never sees half a file;
/// the command service writes when something changed, at most once per <see cref="MinimumInterval"/>.
/// </summary>
public static class NodeStatusFile
{
    public const string DefaultPath = "/run/ppn/status.json";
    public const int Schema = 1;
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);

    /// <summary>The path `ppn status` reads: PPN_STATUS_FILE overrides the default (tests, a copied file).</summary>
    public static string PathFromEnvironment() => Environment.GetEnvironmentVariable("PPN_STATUS_FILE") is { Length: > 0 } p ? p : DefaultPath;

    public static void WriteAtomically(string path, NodeStatus status)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, ToJson(status));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Indented, greppable ('+' in base64 unescaped), one trailing newline.</summary>
    public static byte[] ToJson(NodeStatus status) => [.. JsonSerializer.SerializeToUtf8Bytes(status, NodeStatusJson.Greppable.NodeStatus), (byte)'\n'];

    /// <summary>A status document of <see cref="Schema"/>; false with the reason otherwise. Never throws on bad bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out NodeStatus? status, out string error)
    {
        status = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            error = $"not a status file (not JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("schema", out var schema)
                || schema.ValueKind != JsonValueKind.Number || !schema.TryGetInt32(out int s) || s != Schema)
            {
                error = $"not a status file of schema {Schema} (a ppn of another release wrote it?)";
                return false;
            }
            try
            {
                status = root.Deserialize(NodeStatusJson.Greppable.NodeStatus);
            }
            catch (JsonException e)
            {
                error = $"not a status file of schema {Schema} (field {e.Path ?? "$"} has another layout)";
                return false;
            }
        }
        if (status?.Enrolment is null || status.Commands?.Verdicts is null || status.Journal?.Accepted is null || status.Journal.Rejected is null)
        {
            status = null;
            error = $"not a status file of schema {Schema} (a section is missing: enrolment, commands and journal are required)";
            return false;
        }
        error = "";
        return true;
    }

    public static IReadOnlyList<StatusJournalEntry> Entries(ReadOnlySpan<CommandJournalEntry> entries, long nowNanoseconds)
    {
        var list = new List<StatusJournalEntry>(entries.Length);
        // Newest first: what a technician looks for.
        for (int i = entries.Length - 1; i >= 0; i--)
        {
            var e = entries[i];
            list.Add(new StatusJournalEntry(
                Math.Max(0, (nowNanoseconds - e.MonotonicNanoseconds) / 1_000_000),
                e.Verdict.Token(),
                e.Verdict == CommandVerdict.Accepted ? OutcomeToken(e.Outcome) : null,
                e.FailureReason,
                e.IntentToken,
                e.Argument,
                e.Target.ToString(),
                e.Counter,
                e.Epoch,
                e.Source.ToString()));
        }
        return list;
    }

    public static string OutcomeToken(DispatchOutcome outcome) => outcome switch
    {
        DispatchOutcome.None => "none",
        DispatchOutcome.Executed => "executed",
        DispatchOutcome.Armed => "armed",
        DispatchOutcome.ConfirmWithoutArm => "confirm-without-arm",
        DispatchOutcome.ConfirmNotNext => "confirm-not-next",
        DispatchOutcome.ConfirmExpired => "confirm-expired",
        DispatchOutcome.ConfirmMismatch => "confirm-mismatch",
        DispatchOutcome.EffectFailed => "effect-failed",
        DispatchOutcome.QueueFull => "queue-full",
        _ => "unknown",
    };
}

/// <summary>The source-generated serialiser of status.json; the relaxed encoder keeps '+' of base64 keys greppable (Ppn.Cli.CliJson).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(NodeStatus))]
public sealed partial class NodeStatusJson : JsonSerializerContext
{
    /// <summary>The generated serialiser with the tools' JSON conventions (indented, camelCase, relaxed encoder).</summary>
    public static NodeStatusJson Greppable { get; } = new(Ppn.Cli.CliJson.SerializerOptions());
}
