namespace Ppn.Commands.Testing;

/// <summary>Test twin: keeps the record bytes in memory (so corruption can be simulated) and counts saves.</summary>
public sealed class InMemoryReplayStateStore : IReplayStateStore
{
    private readonly Lock _lock = new();
    private byte[]? _record;
    private byte? _lastKnownEpoch;

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
            _lastKnownEpoch = state.Epoch;
            var record = new byte[ReplayState.RecordSize];
            state.WriteRecord(record);
            _record = record;
            SaveCount++;
        }
    }

    public byte? LastKnownEpoch()
    {
        lock (_lock) return _lastKnownEpoch;
    }

    /// <summary>The replay record alone is lost (the epoch memory stays), as when a variable is deleted.</summary>
    public void LoseRecord()
    {
        lock (_lock) _record = null;
    }

    public void Corrupt()
    {
        lock (_lock)
        {
            if (_record is not null) _record[9] ^= 0xFF;
        }
    }

    /// <summary>Genesis reset: the record and the epoch memory.</summary>
    public void Erase()
    {
        lock (_lock)
        {
            _record = null;
            _lastKnownEpoch = null;
        }
    }
}

/// <summary>A file holding the 16-byte record, and PATH.epoch the epoch memory; each replaced atomically (write temp, fsync, rename).</summary>
public sealed class FileReplayStateStore(string path) : IReplayStateStore
{
    public string Path { get; } = path;
    private string EpochPath => Path + ".epoch";

    public byte? LastKnownEpoch()
    {
        if (!File.Exists(EpochPath)) return null;
        var b = File.ReadAllBytes(EpochPath);
        return b.Length == 2 && b[0] <= CommandPacket.MaxEpoch && b[1] == (byte)~b[0] ? b[0] : null;
    }

    public ReplayStateLoad Load(out ReplayState state)
    {
        state = default;
        if (!File.Exists(Path)) return ReplayStateLoad.Missing;
        var bytes = File.ReadAllBytes(Path);
        return ReplayState.TryReadRecord(bytes, out state) ? ReplayStateLoad.Ok : ReplayStateLoad.Corrupt;
    }

    public void Save(ReplayState state)
    {
        if (LastKnownEpoch() != state.Epoch)
        {
            Replace(EpochPath, [state.Epoch, (byte)~state.Epoch]);
        }
        Span<byte> record = stackalloc byte[ReplayState.RecordSize];
        state.WriteRecord(record);
        Replace(Path, record);
    }

    private static void Replace(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
