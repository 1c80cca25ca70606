using System.Buffers.Binary;
using Geralt;

namespace Ppn.Commands;

/// <summary>
/// What survives a reboot: the epoch in force and the floor (every counter at or below it is rejected after boot).
/// The floor is the end of the last reserved counter block (docs/protocol/commands.md §Replay).
/// </summary>
public readonly record struct ReplayState(byte Epoch, uint Floor)
{
    public const int RecordSize = 16;
    private static ReadOnlySpan<byte> Magic => "PRS1"u8;

    /// <summary>"PRS1" | epoch | 3 zero bytes | floor (uint32 BE) | first 4 bytes of BLAKE2b-256(bytes 0..11).</summary>
    public void WriteRecord(Span<byte> record)
    {
        record[..RecordSize].Clear();
        Magic.CopyTo(record);
        record[4] = Epoch;
        BinaryPrimitives.WriteUInt32BigEndian(record[8..], Floor);
        Span<byte> hash = stackalloc byte[32];
        BLAKE2b.ComputeHash(hash, record[..12]);
        hash[..4].CopyTo(record[12..]);
    }

    /// <summary>False for a record of the wrong size, magic, epoch range, padding or check (a torn or foreign write).</summary>
    public static bool TryReadRecord(ReadOnlySpan<byte> record, out ReplayState state)
    {
        state = default;
        if (record.Length != RecordSize || !record[..4].SequenceEqual(Magic)) return false;
        if (record[4] > CommandPacket.MaxEpoch || record[5] != 0 || record[6] != 0 || record[7] != 0) return false;
        Span<byte> hash = stackalloc byte[32];
        BLAKE2b.ComputeHash(hash, record[..12]);
        if (!hash[..4].SequenceEqual(record[12..16])) return false;
        state = new ReplayState(record[4], BinaryPrimitives.ReadUInt32BigEndian(record[8..]));
        return true;
    }
}

public enum ReplayStateLoad
{
    Ok,
    /// <summary>No record: never written, or erased.</summary>
    Missing,
    /// <summary>A record that fails its check: torn write, foreign data.</summary>
    Corrupt,
}

/// <summary>
/// Durable storage for <see cref="ReplayState"/>. The appliance backs it with a UEFI variable; <see cref="Save"/>
/// must be durable when it returns (the verifier accepts the counter only afterwards) and throw when it is not.
/// It is called once per reserved counter block and on epoch changes, never per command.
/// </summary>
public interface IReplayStateStore
{
    ReplayStateLoad Load(out ReplayState state);
    void Save(ReplayState state);
}

/// <summary>Test twin: keeps the record bytes in memory (so corruption can be simulated) and counts saves.</summary>
public sealed class InMemoryReplayStateStore : IReplayStateStore
{
    private readonly Lock _lock = new();
    private byte[]? _record;

    public int SaveCount { get; private set; }
    /// <summary>When set, <see cref="Save"/> throws (a full or write-protected variable store).</summary>
    public bool FailSaves { get; set; }

    public ReplayStateLoad Load(out ReplayState state)
    {
        lock (_lock)
        {
            state = default;
            if (_record is null) return ReplayStateLoad.Missing;
            return ReplayState.TryReadRecord(_record, out state) ? ReplayStateLoad.Ok : ReplayStateLoad.Corrupt;
        }
    }

    public void Save(ReplayState state)
    {
        lock (_lock)
        {
            if (FailSaves) throw new IOException("replay state store refused the write (test)");
            var record = new byte[ReplayState.RecordSize];
            state.WriteRecord(record);
            _record = record;
            SaveCount++;
        }
    }

    public void Corrupt()
    {
        lock (_lock)
        {
            if (_record is not null) _record[9] ^= 0xFF;
        }
    }

    public void Erase()
    {
        lock (_lock) _record = null;
    }
}

/// <summary>A file holding the 16-byte record; replaced atomically (write temp, fsync, rename).</summary>
public sealed class FileReplayStateStore(string path) : IReplayStateStore
{
    public string Path { get; } = path;

    public ReplayStateLoad Load(out ReplayState state)
    {
        state = default;
        if (!File.Exists(Path)) return ReplayStateLoad.Missing;
        var bytes = File.ReadAllBytes(Path);
        return ReplayState.TryReadRecord(bytes, out state) ? ReplayStateLoad.Ok : ReplayStateLoad.Corrupt;
    }

    public void Save(ReplayState state)
    {
        Span<byte> record = stackalloc byte[ReplayState.RecordSize];
        state.WriteRecord(record);
        var temp = Path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(record);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path, overwrite: true);
    }
}
