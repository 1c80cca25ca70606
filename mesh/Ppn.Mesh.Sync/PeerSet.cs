using System.Buffers.Binary;
using Ppn.Genesis;
using Ppn.Genesis.Enrolment;

namespace Ppn.Mesh.Sync;

/// <summary>Why a node refused a peer set (docs/protocol/sync.md §Verification); each is counted, nothing is applied.</summary>
public enum SetVerdict
{
    Accepted,
    /// <summary>Layout: size, magic, version, reserved bytes, counts, an entry that does not parse.</summary>
    Malformed,
    /// <summary>The set's signature does not verify under any pinned authority signing key.</summary>
    BadSetSignature,
    /// <summary>A grant's receipt does not verify, or a grant is a refusal.</summary>
    BadGrant,
    /// <summary>A revocation's signature does not verify.</summary>
    BadRevocation,
    /// <summary>The set, or a grant in it, is for another hub than this node's.</summary>
    WrongHub,
    /// <summary>Two grants with one node key or one address, two revocations of one key, or a grant for a revoked key.</summary>
    Inconsistent,
    /// <summary>The serial is not above the highest this node accepted (a replay or a stale relay).</summary>
    NotNewer,
}

/// <summary>
/// One version of the mesh's peer set, signed by the authority (docs/protocol/sync.md §Peer set):
/// <code>
///   0   4  magic "PPNS"
///   4   1  version = 1
///   5   3  reserved (0)
///   8   8  serial (big-endian, 1 or more, strictly increasing per authority)
///  16   8  issued at, Unix seconds (big-endian)
///  24  32  hub WireGuard public key (the mesh this set is for)
///  56   2  grant count G (0..253)
///  58   2  revocation count R (0..1024)
///  60   4  reserved (0)
///  64  G × 180  grants (genesis.md §Grant), ascending by address
///   …  R × 120  revocations, ascending by node key
///   …  64 Ed25519 over "PPN-PEERSET-v1" || every byte before it
/// </code>
/// </summary>
public sealed class PeerSet
{
    public const int HeaderSize = 64;
    public const int SignatureSize = 64;
    public const byte CurrentVersion = 1;
    public const int MaxGrants = 253;
    public const int MaxRevocations = 1024;
    public const int MaxSize = HeaderSize + MaxGrants * EnrolmentGrant.Size + MaxRevocations * Revocation.Size + SignatureSize;
    public static ReadOnlySpan<byte> Magic => "PPNS"u8;
    public static ReadOnlySpan<byte> Domain => "PPN-PEERSET-v1"u8;

    private PeerSet(byte[] bytes, ulong serial, ulong issuedAt, byte[] hubPublicKey, IReadOnlyList<EnrolmentGrant> grants, IReadOnlyList<Revocation> revocations)
    {
        Bytes = bytes;
        Serial = serial;
        IssuedAt = issuedAt;
        HubPublicKey = hubPublicKey;
        Grants = grants;
        Revocations = revocations;
    }

    /// <summary>The document exactly as signed: what a relay forwards and a node persists.</summary>
    public byte[] Bytes { get; }
    public ulong Serial { get; }
    public ulong IssuedAt { get; }
    public byte[] HubPublicKey { get; }
    public IReadOnlyList<EnrolmentGrant> Grants { get; }
    public IReadOnlyList<Revocation> Revocations { get; }

    public static int SizeFor(int grants, int revocations) => HeaderSize + grants * EnrolmentGrant.Size + revocations * Revocation.Size + SignatureSize;

    /// <summary>The authority's side: orders the entries canonically and signs the whole document.</summary>
    public static PeerSet Sign(ulong serial, ulong issuedAt, ReadOnlySpan<byte> hubPublicKey, IEnumerable<EnrolmentGrant> grants, IEnumerable<Revocation> revocations, ReadOnlySpan<byte> ed25519PrivateKey)
    {
        if (serial == 0) throw new ArgumentOutOfRangeException(nameof(serial), "a peer set serial starts at 1");
        var g = grants.OrderBy(x => BinaryPrimitives.ReadUInt32BigEndian(x.Address.GetAddressBytes())).ToList();
        var r = revocations.OrderBy(x => Convert.ToHexString(x.NodePublicKey), StringComparer.Ordinal).ToList();
        if (g.Count > MaxGrants || r.Count > MaxRevocations) throw new ArgumentException($"a peer set holds at most {MaxGrants} grants and {MaxRevocations} revocations");
        var bytes = new byte[SizeFor(g.Count, r.Count)];
        Magic.CopyTo(bytes);
        bytes[4] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), serial);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), issuedAt);
        hubPublicKey.CopyTo(bytes.AsSpan(24, 32));
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(56), (ushort)g.Count);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(58), (ushort)r.Count);
        int at = HeaderSize;
        foreach (var grant in g) { grant.WriteTo(bytes.AsSpan(at, EnrolmentGrant.Size)); at += EnrolmentGrant.Size; }
        foreach (var rev in r) { rev.WriteTo(bytes.AsSpan(at, Revocation.Size)); at += Revocation.Size; }
        var message = SignedMessage(bytes);
        Geralt.Ed25519.Sign(bytes.AsSpan(at, SignatureSize), message, ed25519PrivateKey);
        return new PeerSet(bytes, serial, issuedAt, hubPublicKey.ToArray(), g, r);
    }

    private static byte[] SignedMessage(ReadOnlySpan<byte> document)
    {
        var message = new byte[Domain.Length + document.Length - SignatureSize];
        Domain.CopyTo(message);
        document[..^SignatureSize].CopyTo(message.AsSpan(Domain.Length));
        return message;
    }

    /// <summary>Layout only (no signature); never throws on hostile input.</summary>
    public static bool TryParse(ReadOnlySpan<byte> d, out PeerSet? set, out string? error)
    {
        set = null;
        error = null;
        if (d.Length < HeaderSize + SignatureSize || d.Length > MaxSize) { error = $"peer set is {d.Length} bytes, outside {HeaderSize + SignatureSize}..{MaxSize}"; return false; }
        if (!d[..4].SequenceEqual(Magic) || d[4] != CurrentVersion) { error = "peer set has a bad magic or version"; return false; }
        if (d[5] != 0 || d[6] != 0 || d[7] != 0 || BinaryPrimitives.ReadUInt32BigEndian(d[60..]) != 0) { error = "peer set has reserved bits set"; return false; }
        ulong serial = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
        if (serial == 0) { error = "peer set serial is 0"; return false; }
        int g = BinaryPrimitives.ReadUInt16BigEndian(d[56..]);
        int r = BinaryPrimitives.ReadUInt16BigEndian(d[58..]);
        if (g > MaxGrants || r > MaxRevocations) { error = $"peer set counts {g} grants and {r} revocations, more than {MaxGrants} and {MaxRevocations}"; return false; }
        if (d.Length != SizeFor(g, r)) { error = $"peer set is {d.Length} bytes, its counts say {SizeFor(g, r)}"; return false; }
        var grants = new List<EnrolmentGrant>(g);
        int at = HeaderSize;
        for (int i = 0; i < g; i++, at += EnrolmentGrant.Size)
        {
            if (!EnrolmentGrant.TryParse(d.Slice(at, EnrolmentGrant.Size), out var grant, out var why)) { error = $"grant {i}: {why}"; return false; }
            grants.Add(grant!);
        }
        var revocations = new List<Revocation>(r);
        for (int i = 0; i < r; i++, at += Revocation.Size)
        {
            if (!Revocation.TryParse(d.Slice(at, Revocation.Size), out var rev, out var why)) { error = $"revocation {i}: {why}"; return false; }
            revocations.Add(rev!);
        }
        set = new PeerSet(d.ToArray(), serial, BinaryPrimitives.ReadUInt64BigEndian(d[16..]), d.Slice(24, 32).ToArray(), grants, revocations);
        return true;
    }

    /// <summary>
    /// Every check a node makes before it uses a set (sync.md §Verification), in order: layout, the set's signature,
    /// the hub, every grant's receipt, every revocation's signature, consistency. The serial is the caller's check
    /// (<see cref="PeerSetState"/>), it needs the node's persisted high-water mark.
    /// </summary>
    public static SetVerdict Verify(ReadOnlySpan<byte> document, AuthorityTrust trust, ReadOnlySpan<byte> hubPublicKey, out PeerSet? set, out string detail)
    {
        set = null;
        if (!TryParse(document, out var parsed, out var error)) { detail = error!; return SetVerdict.Malformed; }
        if (!trust.VerifySignature(SignedMessage(document), document[^SignatureSize..])) { detail = "the set's signature does not verify under a pinned authority key"; return SetVerdict.BadSetSignature; }
        if (!parsed!.HubPublicKey.AsSpan().SequenceEqual(hubPublicKey)) { detail = "the set is for another hub"; return SetVerdict.WrongHub; }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new HashSet<System.Net.IPAddress>();
        for (int i = 0; i < parsed.Grants.Count; i++)
        {
            var grant = parsed.Grants[i];
            if (grant.Status != GrantStatus.Granted) { detail = $"grant {i} is a refusal"; return SetVerdict.BadGrant; }
            if (!grant.HubPublicKey.AsSpan().SequenceEqual(hubPublicKey)) { detail = $"grant {i} ({grant.Address}) is for another hub"; return SetVerdict.WrongHub; }
            if (!grant.IsBoundTo(grant.NodePublicKey, trust)) { detail = $"grant {i} ({grant.Address}): the receipt does not verify under a pinned authority key"; return SetVerdict.BadGrant; }
            if (!keys.Add(Convert.ToHexString(grant.NodePublicKey)) || !addresses.Add(grant.Address)) { detail = $"grant {i} ({grant.Address}) repeats a node key or an address"; return SetVerdict.Inconsistent; }
        }
        var revoked = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < parsed.Revocations.Count; i++)
        {
            var rev = parsed.Revocations[i];
            if (!rev.IsSignedBy(trust)) { detail = $"revocation {i} (node {rev.NodeId}): the signature does not verify under a pinned authority key"; return SetVerdict.BadRevocation; }
            var key = Convert.ToHexString(rev.NodePublicKey);
            if (!revoked.Add(key)) { detail = $"revocation {i} repeats a node key"; return SetVerdict.Inconsistent; }
            if (keys.Contains(key)) { detail = $"revocation {i} (node {rev.NodeId}) revokes a key the set also grants"; return SetVerdict.Inconsistent; }
        }
        set = parsed;
        detail = $"serial {parsed.Serial}: {parsed.Grants.Count} grant(s), {parsed.Revocations.Count} revocation(s)";
        return SetVerdict.Accepted;
    }

    public bool IsRevoked(ReadOnlySpan<byte> nodePublicKey)
    {
        foreach (var r in Revocations)
        {
            if (r.NodePublicKey.AsSpan().SequenceEqual(nodePublicKey)) return true;
        }
        return false;
    }
}
