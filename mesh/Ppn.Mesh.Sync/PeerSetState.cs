using Ppn.Genesis;

namespace Ppn.Mesh.Sync;

/// <summary>Where a node keeps the last peer set it accepted (the document bytes; the serial is inside).</summary>
public interface IPeerSetStore
{
    byte[]? Load();
    void Save(ReadOnlySpan<byte> document);
    /// <summary>Removes the kept set (nothing when none is kept).</summary>
    void Delete();
}

/// <summary>
/// The highest serial the node ever accepted, kept where it outlives the set's file (a RAM-only image's
/// /var/lib/ppn is gone after a reboot; the appliance keeps this in a UEFI variable). 0 when none was kept.
/// </summary>
public interface ISerialFloor
{
    ulong Load();
    /// <summary>Durable when it returns; throws when it could not be kept.</summary>
    void Save(ulong serial);
}

/// <summary>
/// A file, written whole (<see cref="Ppn.Linux.AtomicFile"/>: a temporary file beside it, fsync, rename, fsync of the
/// directory; a crash leaves the old set or the new one, never half of one). The set is public data (grants and
/// revocations), so the mode is 0644.
/// </summary>
public sealed class FilePeerSetStore(string path) : IPeerSetStore
{
    public const string DefaultPath = "/var/lib/ppn/peerset";

    public string Path { get; } = path;

    public byte[]? Load()
    {
        try
        {
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            // Never more than one byte past the largest set: a huge file is refused (Malformed, counted) unread.
            var bytes = new byte[Math.Min(file.Length, PeerSet.MaxSize + 1)];
            file.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public void Delete() => File.Delete(Path);

    public void Save(ReadOnlySpan<byte> document) => Ppn.Linux.AtomicFile.Replace(Path, document, Ppn.Linux.AtomicFile.Public);
}

/// <summary>An in-memory store (the default when nothing should outlive the process, and for tests).</summary>
public sealed class MemoryPeerSetStore : IPeerSetStore
{
    private byte[]? _document;
    public byte[]? Load() => _document?.ToArray();
    public void Save(ReadOnlySpan<byte> document) => _document = document.ToArray();
    public void Delete() => _document = null;
}

/// <summary>
/// The peer set a node holds: only a set that verifies under the pinned keys, for this node's hub, with a serial
/// above the highest accepted so far, replaces the current one, and it is persisted before it is used
/// (docs/protocol/sync.md §Node state). Every refusal is counted by reason. Thread-safe.
/// </summary>
public sealed class PeerSetState : IPeerSetSource
{
    private readonly object _gate = new();
    private readonly AuthorityTrust _trust;
    private readonly byte[] _hubPublicKey;
    private readonly IPeerSetStore _store;
    private readonly Dictionary<SetVerdict, long> _refused = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ISerialFloor? _floor;
    private ulong _floorSerial;
    private bool _floorFailed;
    private bool _fileFailed;

    public PeerSetState(AuthorityTrust trust, ReadOnlySpan<byte> hubPublicKey, IPeerSetStore store, Action<string>? log = null, ISerialFloor? floor = null)
    {
        _trust = trust;
        _hubPublicKey = hubPublicKey.ToArray();
        _store = store;
        _floor = floor;
        Log = log ?? (_ => { });
        try
        {
            _floorSerial = floor?.Load() ?? 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Log($"the highest accepted serial cannot be read ({e.Message}); the set's file is the only record");
        }
        byte[]? persisted = null;
        try
        {
            persisted = store.Load();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log($"the persisted peer set cannot be read ({e.Message}); starting from none");
        }
        if (persisted is not null)
        {
            var verdict = PeerSet.Verify(persisted, trust, _hubPublicKey, out var set, out var detail);
            if (verdict == SetVerdict.Accepted && set!.Serial < _floorSerial)
            {
                // The floor is kept before the file is written: a cut between the two (or a file that could not be
                // written) leaves an older file under a newer floor. That older set may still grant a key the newer one
                // revokes, so it is refused like any set below the floor (sync.md §Node state).
                verdict = SetVerdict.NotNewer;
                detail = $"serial {set.Serial} is below {_floorSerial}, the highest accepted";
            }
            if (verdict == SetVerdict.Accepted)
            {
                Current = set;
                Log($"peer set restored: {detail}");
            }
            else
            {
                Count(verdict);
                Log($"the persisted peer set is refused ({verdict}: {detail}); starting from none");
            }
        }
    }

    private Action<string> Log { get; }

    /// <summary>The set in use, or null before the first one.</summary>
    public PeerSet? Current { get; private set; }

    /// <summary>The highest serial accepted: the current set's, or the persisted floor when that is higher (the file was lost).</summary>
    public ulong Serial => Math.Max(Current?.Serial ?? 0, _floorSerial);

    /// <summary>
    /// The serial of the set held (0 with none).
    /// </summary>
    public ulong HeldSerial => Current?.Serial ?? 0;

    /// <summary>The serial floor: the highest serial accepted, as kept across reboots (0: none).</summary>
    public ulong FloorSerial { get { lock (_gate) return _floorSerial; } }

    /// <summary>
    /// The <c>since</c> of the next sync request: the held set's serial, or one below the floor when that is higher (a
    /// rebooted node asks for the set the floor records, not only for a newer one: sync.md §Node state).
    /// </summary>
    public ulong RequestSince { get { lock (_gate) return Math.Max(HeldSerial, _floorSerial > 0 ? _floorSerial - 1 : 0); } }

    /// <summary>Completes when <see cref="Current"/> changes (a fresh task after each change).</summary>
    public Task Changed { get { lock (_gate) return _changed.Task; } }

    public IReadOnlyDictionary<SetVerdict, long> Refusals { get { lock (_gate) return new Dictionary<SetVerdict, long>(_refused); } }

    public long RefusedTotal { get { lock (_gate) return _refused.Values.Sum(); } }

    /// <summary>Verifies <paramref name="document"/> and, when it is acceptable and newer, persists it and makes it current.</summary>
    public SetVerdict Offer(ReadOnlySpan<byte> document, out string detail)
    {
        var verdict = PeerSet.Verify(document, _trust, _hubPublicKey, out var set, out detail);
        TaskCompletionSource? fire = null;
        lock (_gate)
        {
            if (verdict == SetVerdict.Accepted && (set!.Serial <= HeldSerial || set.Serial < _floorSerial))
            {
                // Equal to the set held is a repeat (a relay restarting): not a change and not an attack, but not accepted.
                // Below the floor is a replay after a reboot lost the file. Equal to the floor with nothing held is the
                // set this node accepted before the reboot (the authority signs one set per serial): taken again.
                verdict = SetVerdict.NotNewer;
                detail = set.Serial <= HeldSerial
                    ? $"serial {set.Serial} is not above {HeldSerial}, the set held"
                    : $"serial {set.Serial} is below {_floorSerial}, the highest accepted before this boot";
            }
            if (verdict != SetVerdict.Accepted)
            {
                Count(verdict);
            }
            else
            {
                SaveFloor(set!.Serial);
                SaveFile(set);
                Current = set;
                fire = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        if (verdict == SetVerdict.Accepted || verdict != SetVerdict.NotNewer) Log(verdict == SetVerdict.Accepted ? $"peer set accepted: {detail}" : $"peer set refused ({verdict}): {detail}");
        fire?.TrySetResult();
        return verdict;
    }

    /// <summary>
    /// The floor first (a crash between the two leaves a floor above the file, which only refuses more). A floor that
    /// cannot be written is said once and the set is still used: the mesh keeps working, the file still guards
    /// replays until a reboot.
    /// </summary>
    /// <summary>
    /// Raises the serial floor to <paramref name="serial"/> when it is higher (kept like an accepted set's): the relay's
    /// roster restored at start may be ahead of a floor whose write failed, and a set older than the roster must not
    /// be accepted then (it could grant a key the roster's set revoked).
    /// </summary>
    public void RaiseFloor(ulong serial)
    {
        lock (_gate)
        {
            if (serial > _floorSerial) SaveFloor(serial);
        }
    }

    private void SaveFloor(ulong serial)
    {
        _floorSerial = Math.Max(_floorSerial, serial);
        if (_floor is null) return;
        try
        {
            _floor.Save(serial);
            _floorFailed = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            if (!_floorFailed) Log($"the highest accepted serial cannot be kept ({e.Message}): after a reboot an older set could be accepted again");
            _floorFailed = true;
        }
    }

    /// <summary>
    /// A file that cannot be written is said once and the set is still used: refusing it would keep the older set, and
    /// with it a key the new one revokes, for as long as the disk fails. The older file is removed (best effort) so a
    /// restart cannot bring it back; the floor refuses it anyway where one is kept.
    /// </summary>
    private void SaveFile(PeerSet set)
    {
        try
        {
            _store.Save(set.Bytes);
            _fileFailed = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string removed;
            try
            {
                _store.Delete();
                removed = "the older file is removed";
            }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException)
            {
                removed = $"the older file could not be removed either ({d.Message})";
            }
            if (!_fileFailed) Log($"the peer set of serial {set.Serial} cannot be kept ({e.Message}); it is used, {removed}");
            _fileFailed = true;
        }
    }

    private void Count(SetVerdict verdict) => _refused[verdict] = _refused.GetValueOrDefault(verdict) + 1;
}
