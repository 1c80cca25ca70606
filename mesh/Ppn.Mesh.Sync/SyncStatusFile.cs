using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ppn.Mesh.Sync;

/// <summary>
/// <c>/run/ppn/sync.json</c> (docs/protocol/sync.md §Status): the running sync agent's <see cref="SyncStatus"/>, on the
/// relay and on spokes, for `ppn mesh status`. One type for the writer and the reader, source-generated
/// (<see cref="SyncStatusJson"/>). Written whole (temporary file, rename) when it changed, at most once per interval.
/// </summary>
public static class SyncStatusFile
{
    public const string DefaultPath = "/run/ppn/sync.json";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>The path `ppn mesh status` reads: PPN_SYNC_STATUS_FILE overrides the default (tests, a copied file).</summary>
    public static string PathFromEnvironment() => Environment.GetEnvironmentVariable("PPN_SYNC_STATUS_FILE") is { Length: > 0 } p ? p : DefaultPath;

    public static byte[] ToJson(SyncStatus status) => [.. JsonSerializer.SerializeToUtf8Bytes(status, SyncStatusJson.Default.SyncStatus), (byte)'\n'];

    public static void WriteAtomically(string path, ReadOnlySpan<byte> json)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, json.ToArray());
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The document, or null with the reason (missing file, not JSON, another layout). Never throws on bad bytes.</summary>
    public static SyncStatus? TryRead(string path, out string error)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            error = $"{path} does not exist (no sync agent runs: no pinned authority, or not enrolled yet)";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{path} cannot be read: {e.Message}";
            return null;
        }
        try
        {
            var status = JsonSerializer.Deserialize(bytes, SyncStatusJson.Default.SyncStatus);
            if (status?.Role is null || status.Source is null || status.Refusals is null) { error = $"{path} is not a sync status (a field is missing)"; return null; }
            error = "";
            return status;
        }
        catch (JsonException e)
        {
            error = $"{path} is not a sync status ({e.Message})";
            return null;
        }
    }

    /// <summary>Writes <paramref name="status"/>'s document whenever it changed, every <paramref name="interval"/> until stopped; a failed write is said once.</summary>
    public static async Task PublishAsync(Func<SyncStatus> status, string path, Action<string> log, CancellationToken stopping, TimeSpan? interval = null)
    {
        byte[]? written = null;
        bool failed = false;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var json = ToJson(status());
                if (written is null || !json.AsSpan().SequenceEqual(written))
                {
                    WriteAtomically(path, json);
                    written = json;
                    failed = false;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!failed) log($"sync status {path} not written: {e.Message}");
                failed = true;
            }
            try { await Task.Delay(interval ?? Interval, stopping); } catch (OperationCanceledException) { return; }
        }
    }
}

/// <summary>The source-generated serialiser of sync.json and of the `sync` object in status.json and `ppn mesh status --json`.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SyncStatus))]
public sealed partial class SyncStatusJson : JsonSerializerContext;
