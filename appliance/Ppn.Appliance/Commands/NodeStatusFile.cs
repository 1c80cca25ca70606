using System.Text.Json;
using Ppn.Commands;

namespace Ppn.Appliance.Commands;

/// <summary>
/// PID 1 publishes what `ppn status` shows in /run/ppn/status.json (tmpfs): the enrolment in force, the command
/// listener's counters and the bounded command journal. Written whole to a temp file and renamed, so a reader
/// never sees half a file; written when something changed, at most once per <see cref="MinimumInterval"/>.
/// The format is docs/operations.md §ppn status; the CLI reads it with JsonDocument (no reflection).
/// </summary>
public static class NodeStatusFile
{
    public const string DefaultPath = "/run/ppn/status.json";
    public const int Schema = 1;
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);

    /// <summary>The path `ppn status` reads: PPN_STATUS_FILE overrides the default (tests, a copied file).</summary>
    public static string PathFromEnvironment() => Environment.GetEnvironmentVariable("PPN_STATUS_FILE") is { Length: > 0 } p ? p : DefaultPath;

    public static void WriteAtomically(string path, Action<Utf8JsonWriter> body)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var json = new Utf8JsonWriter(stream, Ppn.Cli.CliJson.WriterOptions)) // greppable: '+' in keys unescaped
        {
            json.WriteStartObject();
            json.WriteNumber("schema", Schema);
            body(json);
            json.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteEntries(Utf8JsonWriter json, string name, ReadOnlySpan<CommandJournalEntry> entries, long nowNanoseconds)
    {
        json.WriteStartArray(name);
        // Newest first: what a technician looks for.
        for (int i = entries.Length - 1; i >= 0; i--)
        {
            var e = entries[i];
            json.WriteStartObject();
            json.WriteNumber("agoMs", Math.Max(0, (nowNanoseconds - e.MonotonicNanoseconds) / 1_000_000));
            json.WriteString("verdict", e.Verdict.Token());
            if (e.Verdict == CommandVerdict.Accepted) json.WriteString("outcome", OutcomeToken(e.Outcome));
            if (e.FailureReason is { } reason) json.WriteString("reason", reason);
            json.WriteString("intent", e.IntentToken);
            json.WriteNumber("argument", e.Argument);
            json.WriteString("target", e.Target.ToString());
            json.WriteNumber("counter", e.Counter);
            json.WriteNumber("epoch", e.Epoch);
            json.WriteString("source", e.Source.ToString());
            json.WriteEndObject();
        }
        json.WriteEndArray();
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
