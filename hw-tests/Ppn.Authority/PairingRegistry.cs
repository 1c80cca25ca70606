using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using Ppn.Genesis;
using Ppn.Genesis.Enrolment;
using Ppn.Genesis.Join;
using Ppn.Mesh.Sync;

namespace Ppn.Authority;

public enum BindingOrigin
{
    Join,
    Claim,
}

/// <summary>One node bound in the registry: its key, its assignment, and the exact grant it was given.</summary>
public sealed record Binding(ulong NodeId, byte[] NodePublicKey, IPAddress Address, BindingOrigin Origin, ulong IssuedAt, AckStatus? LastAck, byte[] Grant)
{
    public string NodePublicKeyBase64 => Convert.ToBase64String(NodePublicKey);
}

/// <summary>One join or claim exchange as the authority saw it (several per binding when replies were lost).</summary>
public sealed record ExchangeRecord(long Sequence, string? NodePublicKeyBase64, BindingOrigin Kind, string Outcome);

/// <summary>
/// The pairing registry os-network-admin keeps, as a real SQLite file (Microsoft.Data.Sqlite): one row per
/// node key. Assignment is idempotent: the first exchange for a key allocates the lowest free address in
/// 10.8.0.2–.254 and the next node ID and stores the signed grant itself; every later exchange for the same key
/// (a retry after a lost reply, a claim after a join) gets those same 180 bytes back. A registry belongs to
/// one authority: opening it with another authority's credential is refused.
/// </summary>
public sealed class PairingRegistry : IDisposable
{
    public const int SchemaVersion = 1;
    private readonly SqliteConnection _db;
    private readonly AuthorityCredential _authority;
    private readonly Lock _gate = new();

    private PairingRegistry(SqliteConnection db, AuthorityCredential authority, string path)
    {
        _db = db;
        _authority = authority;
        Path = path;
    }

    public string Path { get; }

    public static PairingRegistry Open(string path, AuthorityCredential authority)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        try
        {
            db.Open();
            Execute(db, """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS bindings (
                    node_id    INTEGER PRIMARY KEY,
                    node_key   BLOB    NOT NULL UNIQUE CHECK (length(node_key) = 32),
                    address    TEXT    NOT NULL UNIQUE,
                    origin     TEXT    NOT NULL CHECK (origin IN ('join', 'claim')),
                    issued_at  INTEGER NOT NULL,
                    grant      BLOB    NOT NULL CHECK (length(grant) = 180),
                    last_ack   INTEGER
                );
                CREATE TABLE IF NOT EXISTS revocations (
                    node_key   BLOB    PRIMARY KEY CHECK (length(node_key) = 32),
                    node_id    INTEGER NOT NULL,
                    revoked_at INTEGER NOT NULL,
                    record     BLOB    NOT NULL CHECK (length(record) = 120)
                );
                CREATE TABLE IF NOT EXISTS exchanges (
                    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
                    node_key BLOB,
                    kind     TEXT NOT NULL,
                    outcome  TEXT NOT NULL
                );
                """);
            var owner = Convert.ToBase64String(authority.SigningPublicKey);
            using (var tx = db.BeginTransaction())
            {
                var stored = Scalar(db, tx, "SELECT value FROM meta WHERE key = 'authority'") as string;
                if (stored is null)
                {
                    Execute(db, $"INSERT INTO meta (key, value) VALUES ('schema', '{SchemaVersion}'), ('authority', $a)", tx, ("$a", owner));
                }
                else if (stored != owner)
                {
                    throw new InvalidOperationException($"{path} is the registry of authority {stored}, not of {owner}: use that authority's credential or a new registry file");
                }
                tx.Commit();
            }
            return new PairingRegistry(db, authority, path);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The grant for <paramref name="nodePublicKey"/>: the stored one if the key is bound (same bytes, so the
    /// same node ID, address and receipt), else a new binding. A full /24 gets a signed refusal, not stored.
    /// </summary>
    public EnrolmentGrant Assign(ReadOnlySpan<byte> nodePublicKey, BindingOrigin origin, ulong nowUnixSeconds)
    {
        bool changed = false;
        try
        {
            return AssignLocked(nodePublicKey.ToArray(), origin, nowUnixSeconds, ref changed);
        }
        finally
        {
            if (changed) Changed?.Invoke();
        }
    }

    /// <summary>
    /// Raised after a binding is added, re-issued or revoked (outside the registry's lock): the peer-set publisher
    /// signs the next set (docs/protocol/sync.md §Authority).
    /// </summary>
    public event Action? Changed;

    /// <summary>
    /// Revokes <paramref name="nodePublicKey"/>: the binding leaves the registry (its address becomes free), a signed
    /// revocation record is kept for ever, and the key gets refusals from now on. Null when the key was never bound
    /// or is already revoked.
    /// </summary>
    public Revocation? Revoke(ReadOnlySpan<byte> nodePublicKey, ulong nowUnixSeconds)
    {
        var key = nodePublicKey.ToArray();
        Revocation? revocation = null;
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            if (Scalar(_db, tx, "SELECT node_id FROM bindings WHERE node_key = $k", ("$k", key)) is long nodeId)
            {
                revocation = Revocation.Sign((ulong)nodeId, key, nowUnixSeconds, _authority.SigningPrivateKey);
                Execute(_db, "INSERT INTO revocations (node_key, node_id, revoked_at, record) VALUES ($k, $id, $at, $r)", tx,
                    ("$k", key), ("$id", nodeId), ("$at", (long)nowUnixSeconds), ("$r", revocation.ToBytes()));
                Execute(_db, "DELETE FROM bindings WHERE node_key = $k", tx, ("$k", key));
            }
            tx.Commit();
        }
        if (revocation is not null) Changed?.Invoke();
        return revocation;
    }

    public IReadOnlyList<Revocation> Revocations()
    {
        lock (_gate)
        {
            var list = new List<Revocation>();
            using var cmd = Command(_db, null, "SELECT record FROM revocations ORDER BY node_key");
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                list.Add(Revocation.TryParse((byte[])r.GetValue(0), out var rev, out var error) ? rev! : throw new InvalidDataException($"registry revocation row holds a bad record: {error}"));
            }
            return list;
        }
    }

    /// <summary>
    /// The next peer-set serial, persisted before it is used (a restarted authority never signs a serial twice), and
    /// the set of every binding and revocation at this moment, read in one transaction.
    /// </summary>
    public (ulong Serial, IReadOnlyList<EnrolmentGrant> Grants, IReadOnlyList<Revocation> Revocations) NextPeerSet()
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            ulong serial = (Scalar(_db, tx, "SELECT value FROM meta WHERE key = 'peerset_serial'") is string v ? ulong.Parse(v, CultureInfo.InvariantCulture) : 0) + 1;
            Execute(_db, "INSERT INTO meta (key, value) VALUES ('peerset_serial', $v) ON CONFLICT(key) DO UPDATE SET value = $v", tx, ("$v", serial.ToString(CultureInfo.InvariantCulture)));
            var grants = new List<EnrolmentGrant>();
            using (var cmd = Command(_db, tx, "SELECT grant FROM bindings ORDER BY node_id"))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                    grants.Add(EnrolmentGrant.TryParse((byte[])reader.GetValue(0), out var g, out var error) ? g! : throw new InvalidDataException($"registry row holds a bad grant: {error}"));
                }
            }
            var revocations = new List<Revocation>();
            using (var cmd = Command(_db, tx, "SELECT record FROM revocations ORDER BY node_key"))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                    revocations.Add(Revocation.TryParse((byte[])reader.GetValue(0), out var r, out var error) ? r! : throw new InvalidDataException($"registry revocation row holds a bad record: {error}"));
                }
            }
            tx.Commit();
            return (serial, grants, revocations);
        }
    }

    private EnrolmentGrant AssignLocked(byte[] key, BindingOrigin origin, ulong nowUnixSeconds, ref bool changed)
    {
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            if (Scalar(_db, tx, "SELECT 1 FROM revocations WHERE node_key = $k", ("$k", key)) is not null)
            {
                // A revoked key stays out: it gets a signed refusal, as a full /24 does (docs/protocol/sync.md §Authority).
                tx.Commit();
                return _authority.Refusal(key, nowUnixSeconds, RefusalReason.Revoked);
            }
            if (Scalar(_db, tx, "SELECT grant FROM bindings WHERE node_key = $k", ("$k", key)) is byte[] existing)
            {
                tx.Commit();
                return EnrolmentGrant.TryParse(existing, out var stored, out var error) ? stored! : throw new InvalidDataException($"registry row for {Convert.ToBase64String(key)} holds a bad grant: {error}");
            }
            var used = new HashSet<int>();
            using (var cmd = Command(_db, tx, "SELECT address FROM bindings"))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read()) used.Add(IPAddress.Parse(reader.GetString(0)).GetAddressBytes()[3]);
            }
            int octet = Enumerable.Range(2, 253).FirstOrDefault(o => !used.Contains(o));
            if (octet == 0)
            {
                tx.Commit();
                return _authority.Refusal(key, nowUnixSeconds, RefusalReason.AddressPoolFull);
            }
            var nodeId = (ulong)(long)Scalar(_db, tx, "SELECT COALESCE(MAX(node_id), 0) + 1 FROM bindings")!;
            if (nodeId > EnrolmentGrant.MaxNodeId)
            {
                // Node IDs are 14 bits in command packets: a larger one would enrol a node no command can reach.
                tx.Commit();
                return _authority.Refusal(key, nowUnixSeconds, RefusalReason.NodeIdsExhausted);
            }
            var address = new IPAddress([10, 8, 0, (byte)octet]);
            var grant = _authority.Grant(key, nodeId, address, nowUnixSeconds);
            var bytes = new byte[EnrolmentGrant.Size];
            grant.WriteTo(bytes);
            Execute(_db, "INSERT INTO bindings (node_id, node_key, address, origin, issued_at, grant) VALUES ($id, $k, $addr, $origin, $at, $g)", tx,
                ("$id", (long)nodeId), ("$k", key), ("$addr", address.ToString()), ("$origin", Name(origin)), ("$at", (long)nowUnixSeconds), ("$g", bytes));
            tx.Commit();
            changed = true;
            return grant;
        }
    }

    /// <summary>
    /// Re-signs every binding with this registry's credential as it is now (the same node id and address, the current
    /// hub endpoint and key, issued at <paramref name="nowUnixSeconds"/>), as a control plane does when its hub moves:
    /// a node that joins again (beacon-rescan) then gets the new grant. Returns how many grants were re-issued.
    /// </summary>
    public int ReissueGrants(ulong nowUnixSeconds)
    {
        var rows = new List<(long NodeId, byte[] Key, string Address)>();
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            using (var cmd = Command(_db, tx, "SELECT node_id, node_key, address FROM bindings"))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read()) rows.Add((reader.GetInt64(0), (byte[])reader.GetValue(1), reader.GetString(2)));
            }
            foreach (var (nodeId, key, address) in rows)
            {
                var bytes = new byte[EnrolmentGrant.Size];
                _authority.Grant(key, (ulong)nodeId, IPAddress.Parse(address), nowUnixSeconds).WriteTo(bytes);
                Execute(_db, "UPDATE bindings SET grant = $g, issued_at = $at WHERE node_id = $id", tx,
                    ("$g", bytes), ("$at", (long)nowUnixSeconds), ("$id", nodeId));
            }
            tx.Commit();
        }
        if (rows.Count > 0) Changed?.Invoke();
        return rows.Count;
    }

    /// <summary>Records the ack the node sent for its grant (Persisted means the node stored it in UEFI variables).</summary>
    public void RecordAck(ReadOnlySpan<byte> nodePublicKey, AckStatus ack)
    {
        lock (_gate)
        {
            Execute(_db, "UPDATE bindings SET last_ack = $ack WHERE node_key = $k", null, ("$ack", (long)ack), ("$k", nodePublicKey.ToArray()));
        }
    }

    public void RecordExchange(byte[]? nodePublicKey, BindingOrigin kind, string outcome)
    {
        lock (_gate)
        {
            Execute(_db, "INSERT INTO exchanges (node_key, kind, outcome) VALUES ($k, $kind, $o)", null,
                ("$k", nodePublicKey is { Length: 32 } ? nodePublicKey : DBNull.Value), ("$kind", Name(kind)), ("$o", outcome));
        }
    }

    public IReadOnlyList<Binding> Bindings()
    {
        lock (_gate)
        {
            var list = new List<Binding>();
            using var cmd = Command(_db, null, "SELECT node_id, node_key, address, origin, issued_at, last_ack, grant FROM bindings ORDER BY node_id");
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                list.Add(new Binding((ulong)r.GetInt64(0), (byte[])r.GetValue(1), IPAddress.Parse(r.GetString(2)),
                    r.GetString(3) == "join" ? BindingOrigin.Join : BindingOrigin.Claim, (ulong)r.GetInt64(4),
                    r.IsDBNull(5) ? null : (AckStatus)r.GetInt64(5), (byte[])r.GetValue(6)));
            }
            return list;
        }
    }

    public IReadOnlyList<ExchangeRecord> Exchanges()
    {
        lock (_gate)
        {
            var list = new List<ExchangeRecord>();
            using var cmd = Command(_db, null, "SELECT seq, node_key, kind, outcome FROM exchanges ORDER BY seq");
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                list.Add(new ExchangeRecord(r.GetInt64(0), r.IsDBNull(1) ? null : Convert.ToBase64String((byte[])r.GetValue(1)),
                    r.GetString(2) == "join" ? BindingOrigin.Join : BindingOrigin.Claim, r.GetString(3)));
            }
            return list;
        }
    }

    private static string Name(BindingOrigin origin) => origin == BindingOrigin.Join ? "join" : "claim";

    private static SqliteCommand Command(SqliteConnection db, SqliteTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        return cmd;
    }

    private static void Execute(SqliteConnection db, string sql, SqliteTransaction? tx = null, params (string Name, object Value)[] parameters)
    {
        using var cmd = Command(db, tx, sql, parameters);
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection db, SqliteTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = Command(db, tx, sql, parameters);
        var v = cmd.ExecuteScalar();
        return v is DBNull ? null : v;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"pairing registry {Path}");

    public void Dispose() => _db.Dispose();
}
